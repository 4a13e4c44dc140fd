"""19.0.1.2.0 gives rules and ID tags a company (multi-company, issue 9).

Before this version every rule and tag served every mailbox. Adding the column
here, empty, keeps them shared on upgrade: left to the ORM, the new column would
be filled with its default (the current company), and the rules would silently
stop applying to the mailboxes of other companies. New rules and tags get the
creating user's company.
"""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    for table in ("mail_converter_rule", "mail_converter_tag"):
        cr.execute("SELECT to_regclass(%s)", (table,))
        if not cr.fetchone()[0]:
            continue
        _logger.info("mail_converter: %s.company_id added, existing rows stay shared", table)
        cr.execute(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS company_id integer"  # constant names
        )

"""19.0.1.2.0 gives rules, ID tags, folders and links a company (multi-company, issue 9).

Rules and tags: before this version every rule and tag served every mailbox.
Adding the column here, empty, keeps them shared on upgrade: left to the ORM, the
new column would be filled with its default (the current company), and the rules
would silently stop applying to the mailboxes of other companies. New rules and
tags get the creating user's company.

Folders and links: their company is their mailbox's and their log row's. One
UPDATE each fills it, instead of the ORM recomputing a related field over every
link row of the log.
"""

import logging

_logger = logging.getLogger(__name__)


def _table_exists(cr, table):
    cr.execute("SELECT to_regclass(%s)", (table,))
    return bool(cr.fetchone()[0])


def _column_exists(cr, table, column):
    cr.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
        (table, column),
    )
    return bool(cr.fetchone())


def migrate(cr, version):
    for table in ("mail_converter_rule", "mail_converter_tag"):
        if _table_exists(cr, table) and not _column_exists(cr, table, "company_id"):
            _logger.info("mail_converter: %s.company_id added, existing rows stay shared", table)
            cr.execute(f"ALTER TABLE {table} ADD COLUMN company_id integer")  # constant names
    fills = (
        (
            "mail_converter_folder",
            "UPDATE mail_converter_folder f SET company_id = s.company_id "
            "FROM fetchmail_server s WHERE s.id = f.server_id",
        ),
        (
            "mail_converter_link",
            "UPDATE mail_converter_link k SET company_id = l.company_id "
            "FROM mail_converter_log l WHERE l.id = k.log_id",
        ),
    )
    for table, update in fills:
        if _table_exists(cr, table) and not _column_exists(cr, table, "company_id"):
            _logger.info("mail_converter: %s.company_id filled from its parent", table)
            cr.execute(f"ALTER TABLE {table} ADD COLUMN company_id integer")  # constant names
            cr.execute(update)

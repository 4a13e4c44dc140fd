import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class MailConverterContactClaim(models.Model):
    """An address a worker is creating a contact for.

    Two workers converting mail from the same unknown sender at the same moment
    would each create a contact. Before creating one, a worker claims its address
    here; the second claim of an address waits for the first transaction and then
    fails as a concurrency error, and its email is converted again at once in a new
    transaction, which finds the contact the first worker created.
    """

    _name = "mail.converter.contact.claim"
    _description = "Mail converter: address of a contact being created"
    _log_access = False

    email = fields.Char(required=True, readonly=True)
    claimed_on = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)

    _email_unique = models.Constraint("UNIQUE(email)", "An address is claimed once.")

    @api.model
    def _converter_claim(self, emails):
        """Claim ``emails`` in this transaction (raises a concurrency error if another worker
        created a contact for one of them since this transaction began)."""
        if not emails:
            return
        rows = SQL(", ").join(SQL("(%s, now() at time zone 'UTC')", e) for e in sorted(emails))
        self.env.cr.execute(
            SQL(
                "INSERT INTO mail_converter_contact_claim (email, claimed_on) VALUES %s "
                "ON CONFLICT (email) DO UPDATE SET claimed_on = EXCLUDED.claimed_on",
                rows,
            ),
            log_exceptions=False,
        )

    @api.autovacuum
    def _gc_claims(self):
        """Claims only matter while their transaction runs: drop those older than a day."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM mail_converter_contact_claim WHERE claimed_on < %s",
                fields.Datetime.now() - timedelta(days=1),
            )
        )

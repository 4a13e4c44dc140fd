from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# pg_try_advisory_xact_lock(namespace, hashtext(address)): "a contact for it is being created".
CLAIM_LOCK_NAMESPACE = 0x4D43  # "MC"


class ContactBeingCreated(Exception):
    """Another worker's open transaction is creating a contact for this address."""


class MailConverterContactClaim(models.Model):
    """An address a worker has created a contact for.

    Two workers converting mail from the same unknown sender at the same moment
    would each create a contact. Before creating one, a worker claims its address:
    a transaction lock tells it another worker is creating that contact right now,
    and this table tells it another worker created it after its own transaction
    began. Either way its email fails as a concurrency error, without waiting, and
    is converted again after its batch's commit, when it finds that contact.
    """

    _name = "mail.converter.contact.claim"
    _description = "Mail converter: address of a contact being created"
    _log_access = False

    email = fields.Char(required=True, readonly=True)
    claimed_on = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)

    _email_unique = models.Constraint("UNIQUE(email)", "An address is claimed once.")

    @api.model
    def _converter_claim(self, emails):
        """Claim ``emails`` in this transaction; raise :class:`ContactBeingCreated` or a
        serialization failure when another worker is creating, or has created since this
        transaction began, a contact for one of them."""
        if not emails:
            return
        # One statement for all addresses. Never waits: a busy address is retried after this
        # batch, not blocked on (the locks taken meanwhile are held to the end of the
        # transaction, as they would be one by one).
        self.env.cr.execute(
            SQL(
                "SELECT e FROM unnest(%s::text[]) WITH ORDINALITY AS t(e, n) "
                "WHERE NOT pg_try_advisory_xact_lock(%s, hashtext(e)) ORDER BY n",
                sorted(emails),
                CLAIM_LOCK_NAMESPACE,
            )
        )
        busy = self.env.cr.fetchone()
        if busy:
            raise ContactBeingCreated(busy[0])
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
        """A claim only matters to transactions that began before it was committed (one
        batch at most): drop those older than a day."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM mail_converter_contact_claim WHERE claimed_on < %s",
                fields.Datetime.now() - timedelta(days=1),
            )
        )

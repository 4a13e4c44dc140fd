import psycopg2

from odoo import api, fields, models
from odoo.tools import SQL


class MailConverterFolderRange(models.Model):
    """A slice of a folder's backlog (a UID range) waiting for a worker.

    A worker that finds more new messages than one range holds cuts them into ranges;
    every worker reading the mailbox then takes the next free range with
    ``SELECT ... FOR UPDATE SKIP LOCKED`` and deletes it once converted. A worker that
    dies leaves its range behind, unlocked, for the next one; the log keeps the
    messages it had already converted exactly-once.
    """

    _name = "mail.converter.folder.range"
    _description = "Mail converter backlog range"
    _order = "folder_id, uid_from"
    _log_access = False

    folder_id = fields.Many2one(
        "mail.converter.folder", required=True, ondelete="cascade", index=True, readonly=True
    )
    server_id = fields.Many2one(
        related="folder_id.server_id", store=True, index=True, string="Mailbox"
    )
    company_id = fields.Many2one(related="folder_id.company_id", store=True)
    uidvalidity = fields.Integer("UIDVALIDITY", required=True, readonly=True)
    uid_from = fields.Integer("From UID", required=True, readonly=True)
    uid_to = fields.Integer("To UID", required=True, readonly=True)
    message_count = fields.Integer("Messages", readonly=True)

    _uid_order = models.Constraint(
        "CHECK(uid_from <= uid_to)", "A backlog range starts before it ends."
    )

    @api.model
    def _converter_claim(self, cr, folder_id, uidvalidity):
        """Lock the next free range of ``folder_id`` on ``cr``; ``(id, from, to)`` or ``None``.

        The lock lasts as long as ``cr``'s transaction: the worker keeps that cursor open
        while it converts the range, and deletes the range through it when done.
        """
        for _attempt in range(5):
            try:
                cr.execute(
                    SQL(
                        "SELECT id, uid_from, uid_to FROM mail_converter_folder_range "
                        "WHERE folder_id = %s AND uidvalidity = %s "
                        "ORDER BY uid_from LIMIT 1 FOR UPDATE SKIP LOCKED",
                        folder_id,
                        uidvalidity,
                    ),
                    log_exceptions=False,
                )
                return cr.fetchone()
            except psycopg2.errors.SerializationFailure:
                # Another worker finished a range between this snapshot and its lock.
                cr.rollback()
        return None

    @api.model
    def _converter_release(self, cr, range_id):
        """Forget a converted range (on the cursor that holds its lock)."""
        cr.execute(SQL("DELETE FROM mail_converter_folder_range WHERE id = %s", range_id))

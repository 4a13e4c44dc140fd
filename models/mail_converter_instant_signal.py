from odoo import api, fields, models
from odoo.tools import SQL


class MailConverterInstantSignal(models.Model):
    """A message announced by IMAP IDLE, waiting for the instant delivery job to fetch its mailbox.

    Rows are only inserted by listeners and deleted by the job, never updated, so
    neither ever waits for the other.
    """

    _name = "mail.converter.instant.signal"
    _description = "Mail converter instant delivery signal"
    _log_access = False

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    folder_id = fields.Many2one("mail.converter.folder", ondelete="cascade")

    @api.model
    def _converter_signal(self, server_id, folder_id=False):
        """A message arrived in ``folder_id``: queue its mailbox and wake a cron worker."""
        self.sudo().create({"server_id": server_id, "folder_id": folder_id or False})
        self.env.ref("mail_converter.ir_cron_mail_converter_instant").sudo()._trigger()

    @api.model
    def _converter_pending(self):
        """``{mailbox id: highest signal id}`` of the mailboxes waiting to be fetched."""
        self.env.cr.execute(
            SQL(
                "SELECT server_id, max(id) FROM mail_converter_instant_signal GROUP BY server_id"
                " ORDER BY min(id)"
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _converter_consume(self, server_id, upto_id):
        """Forget the signals of ``server_id`` up to ``upto_id`` (later ones wait for another run)."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM mail_converter_instant_signal WHERE server_id = %s AND id <= %s",
                server_id,
                upto_id,
            )
        )

from odoo import api, fields, models
from odoo.exceptions import UserError


class MailConverterImport(models.TransientModel):
    _name = "mail.converter.import"
    _description = "Import an email archive through the converter"

    server_id = fields.Many2one(
        "fetchmail.server",
        "Mailbox",
        required=True,
        domain=[("use_converter", "=", True)],
        default=lambda self: self._default_server(),
        help="Its settings, rules and log apply, as if the mail had been fetched from it.",
    )
    file = fields.Binary(required=True, help="An .eml file, an .mbox file or a .zip of .eml files.")
    filename = fields.Char()
    direction = fields.Selection(
        [("inbound", "Inbound (received mail)"), ("outbound", "Outbound (sent mail)")],
        required=True,
        default="inbound",
        help="Outbound: mail your staff sent, assigned to its sender, as from a Sent folder.",
    )

    @api.model
    def _default_server(self):
        return self.env["fetchmail.server"].search([("use_converter", "=", True)], limit=1)

    def _file_attachment(self):
        """The uploaded file, stored as an attachment of this wizard (never decoded in memory)."""
        return (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("res_field", "=", "file"),
                ],
                limit=1,
            )
        )

    def action_import(self):
        """Store the file on a new import and run it: now when it is small, else in the background."""
        self.ensure_one()
        self.env["mail.converter.import.job"].check_access("create")
        attachment = self._file_attachment()
        if not attachment:
            raise UserError(self.env._("Choose a file to import."))
        attachment.name = self.filename or attachment.name or "archive"
        Job = self.env["mail.converter.import.job"]
        job = Job._import_create(self.server_id, attachment, self.direction)
        small = attachment.file_size <= Job._import_immediate_bytes() and job._import_count()
        if small and job.total <= Job._import_immediate_limit():
            # As the scheduler and Fetch Now do: the pipeline creates what the rules say,
            # whatever the importing administrator may create themselves.
            job.sudo()._import_run(commit=False)
        elif job.state == "queued":
            job._import_schedule()
        return {
            "type": "ir.actions.act_window",
            "res_model": job._name,
            "res_id": job.id,
            "view_mode": "form",
            "target": "current",
            "name": self.env._("Import"),
        }

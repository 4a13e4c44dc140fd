from odoo import fields, models


class MailConverterFolderWizard(models.TransientModel):
    _name = "mail.converter.folder.wizard"
    _description = "Choose the folders a mailbox reads"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade")
    line_ids = fields.One2many(
        "mail.converter.folder.wizard.line", "wizard_id", "Folders on the server"
    )

    def action_apply(self):
        """Read the ticked folders; stop reading the others (their history is kept)."""
        self.ensure_one()
        Folder = self.env["mail.converter.folder"].with_context(active_test=False)
        existing = {f.path: f for f in Folder.search([("server_id", "=", self.server_id.id)])}
        for line in self.line_ids:
            folder = existing.get(line.path)
            if line.selected and not folder:
                Folder.create(
                    {"server_id": self.server_id.id, "path": line.path, "direction": line.direction}
                )
            elif folder and folder.active != line.selected:
                folder.active = line.selected
        return {"type": "ir.actions.act_window_close"}

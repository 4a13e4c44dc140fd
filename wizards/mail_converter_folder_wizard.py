from odoo import api, fields, models

# Folders never worth reading: everything again (Gmail's All Mail), spam, bin, drafts.
SKIPPED_SPECIAL_USE = frozenset({"\\All", "\\Junk", "\\Trash", "\\Drafts", "\\Flagged"})


class MailConverterFolderWizard(models.TransientModel):
    _name = "mail.converter.folder.wizard"
    _description = "Choose the folders a mailbox reads"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade")
    line_ids = fields.One2many(
        "mail.converter.folder.wizard.line", "wizard_id", "Folders on the server"
    )

    @api.model
    def _converter_create_for(self, server, folders):
        """The chooser for ``server``'s ``folders`` (``{path: special-use attributes}``).

        Read folders stay ticked. A mailbox that reads no outbound folder yet gets the
        folder its server flags ``\\Sent`` ticked as outbound (on Gmail: INBOX and
        ``[Gmail]/Sent Mail``), never one flagged All, Junk, Trash, Drafts or Flagged.
        """
        reading = server.converter_folder_ids.filtered("active")
        add_sent = not reading.filtered(lambda f: f.direction == "outbound")
        lines = []
        for path, special_use in folders.items():
            direction = server._converter_guess_direction(path, special_use)
            selected = path in reading.mapped("path") or (
                add_sent and "\\Sent" in special_use and not special_use & SKIPPED_SPECIAL_USE
            )
            lines.append(
                fields.Command.create(
                    {
                        "path": path,
                        "selected": selected,
                        "direction": direction,
                        "special_use": " ".join(sorted(special_use)),
                    }
                )
            )
        return self.create({"server_id": server.id, "line_ids": lines})

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

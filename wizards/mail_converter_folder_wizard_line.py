from odoo import fields, models


class MailConverterFolderWizardLine(models.TransientModel):
    _name = "mail.converter.folder.wizard.line"
    _description = "A folder found on the mail server"
    _order = "path"

    wizard_id = fields.Many2one("mail.converter.folder.wizard", required=True, ondelete="cascade")
    path = fields.Char(required=True, readonly=True)
    selected = fields.Boolean("Read")
    special_use = fields.Char(
        readonly=True, help="What the server says the folder is for (RFC 6154): \\Sent, \\Junk..."
    )
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")],
        required=True,
        default=lambda self: "inbound",
    )

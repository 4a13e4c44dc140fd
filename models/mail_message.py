from odoo import fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    mail_converter_private = fields.Boolean(
        "Private email",
        index="btree_not_null",
        copy=False,
        help="Imported as private by the mail converter.",
    )

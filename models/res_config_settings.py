from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # Off by default: a private email is seen by its author and its record's responsible only.
    group_mail_converter_private_admin = fields.Boolean(
        "Administrators see private emails",
        implied_group="mail_converter.group_mail_converter_private_admin",
        group="base.group_system",
        help="Settings administrators see every private email and its attachments.",
    )

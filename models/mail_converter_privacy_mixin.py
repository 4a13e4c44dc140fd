from odoo import fields, models


class MailConverterPrivacyMixin(models.AbstractModel):
    """The import and privacy flags of a record emails are filed on (contacts, leads)."""

    _name = "mail.converter.privacy.mixin"
    _description = "Mail converter: import and privacy flags"

    mail_converter_exclude = fields.Boolean(
        "Exclude from email import",
        help="An email that concerns this record is not imported at all, even if it concerns others too.",
    )
    # Privacy (C5): who sees a private email is enforced by record rules on mail.message.
    mail_converter_all_private = fields.Boolean(
        "All emails private",
        help="Every email about this record is private: the ones the mail converter imports and "
        "the ones staff send from Odoo. Only their author and the responsible of the record "
        "they are on see them.",
    )
    mail_converter_import_private = fields.Boolean(
        "Imported emails private",
        help="Emails the mail converter imports about this record are private: only their "
        "author and the responsible of the record they are on see them.",
    )

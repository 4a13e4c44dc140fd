from odoo import fields, models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "mail.converter.filed.mixin"]

    mail_converter_exclude = fields.Boolean(
        "Exclude from email import",
        help="An email that concerns this record is not imported at all, even if it concerns others too.",
    )

    # Odoo's trigram index serves ilike; exact matching wants a btree.
    _email_normalized_mail_converter_index = models.Index(
        "(email_normalized) WHERE email_normalized IS NOT NULL"
    )

from odoo import models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "mail.converter.filed.mixin", "mail.converter.privacy.mixin"]

    # Odoo's trigram index serves ilike; exact matching wants a btree.
    _email_normalized_mail_converter_index = models.Index(
        "(email_normalized) WHERE email_normalized IS NOT NULL"
    )

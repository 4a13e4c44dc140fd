from odoo import api, models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "mail.converter.filed.mixin", "mail.converter.privacy.mixin"]

    # Odoo's trigram index serves ilike; exact matching wants a btree.
    _email_normalized_mail_converter_index = models.Index(
        "(email_normalized) WHERE email_normalized IS NOT NULL"
    )

    @api.model_create_multi
    def create(self, vals_list):
        # A wave of the converter's batch makes its leads in one create (mail.converter.batch).
        bulk = self._converter_bulk_create(vals_list)
        return super().create(vals_list) if bulk is None else bulk

from odoo import api, fields, models
from odoo.exceptions import AccessError


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "mail.converter.filed.mixin", "mail.converter.privacy.mixin"]

    # On a company, the flags cover its contacts.
    mail_converter_all_private = fields.Boolean(
        help="Every email about this record is private: the ones the mail converter imports and "
        "the ones staff send from Odoo. Only their author and the responsible of the record "
        "they are on see them. On a company, it covers its contacts.",
    )
    mail_converter_import_private = fields.Boolean(
        help="Emails the mail converter imports about this record are private: only their "
        "author and the responsible of the record they are on see them. On a company, it covers its contacts.",
    )
    mail_converter_created = fields.Boolean(
        "Created by the mail converter",
        readonly=True,
        copy=False,
        help="This contact was created from an email; marking that email as spam may delete it.",
    )

    # Stock Odoo has no index here: one look-up scans the table (16.7 ms at 100,000 partners).
    _email_normalized_mail_converter_index = models.Index(
        "(email_normalized) WHERE email_normalized IS NOT NULL"
    )
    # New contacts join the company whose website is on their domain: companies with a
    # website are few, so this lets that look-up skip the contacts (19 ms a look-up
    # at 100,000 contacts without it).
    _company_website_mail_converter_index = models.Index(
        "(id) WHERE is_company IS TRUE AND website IS NOT NULL"
    )

    # C11: the flag lets "Mark as spam" delete the contact, so only the converter (running as
    # the system) sets it, never a user or an RPC call.
    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                vals.pop("mail_converter_created", None)
        return super().create(vals_list)

    def write(self, vals):
        if "mail_converter_created" in vals and not self.env.su:
            raise AccessError(
                self.env._("Only the mail converter marks a contact as created from an email.")
            )
        return super().write(vals)

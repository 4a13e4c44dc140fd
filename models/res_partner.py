from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.fields import Domain

# What a partner's answer to "who has this address" depends on (its rules: the company).
_EMAIL_FIELDS = ("email", "email_normalized", "active", "company_id")


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

    @api.model
    def _converter_memo_search(self, memo, domain, offset, limit, order):
        # Odoo's gateway looks up the partners of an email's addresses several times an
        # email (author, recipients, a new ticket's customer), each time with
        # [("email_normalized", "in", emails)] in id order: a wave reads all its addresses
        # once, then answers each look-up with the part it asks for.
        emails = self._converter_asked_emails(domain)
        wave_emails = memo.scope.get("partner_emails")
        if (
            emails is None
            or not wave_emails
            or offset
            or limit is not None
            or (order or "").strip().lower() != "id asc"
            or not emails <= wave_emails
        ):
            return super()._converter_memo_search(memo, domain, offset, limit, order)
        by_email = memo.answer(
            self._name,
            ("email_normalized in", self._converter_memo_env_key()),
            lambda: self._converter_ids_by(
                [("email_normalized", "in", sorted(wave_emails))], "email_normalized", "id ASC"
            ),
            fields=_EMAIL_FIELDS,
        )
        return sorted({pid for email in emails for pid in by_email.get(email, ())})

    @api.model
    def _converter_asked_emails(self, domain):
        """The addresses of ``[("email_normalized", "in", emails)]``, else ``None``."""
        try:
            conditions = list(Domain(domain))
        except Exception:  # noqa: BLE001 - not a domain this look-up answers
            return None
        if len(conditions) != 1 or not isinstance(conditions[0], tuple):
            return None
        field, operator, value = conditions[0]
        if (field, operator) != ("email_normalized", "in") or not isinstance(value, list):
            return None
        if not all(isinstance(email, str) for email in value):
            return None
        return set(value)

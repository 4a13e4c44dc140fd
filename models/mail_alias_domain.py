from odoo import api, models


class MailAliasDomain(models.Model):
    _inherit = "mail.alias.domain"

    @api.model
    def _find_aliases(self, email_list):
        # During one fetch run the same recipients come back in every email; whether
        # an address is an alias does not change meanwhile, so ask once per address.
        cache = self.env.context.get("mail_converter_run_cache")
        if cache is None:
            return super()._find_aliases(email_list)
        emails = [e for e in email_list if e and "@" in e]
        unknown = list(dict.fromkeys(e for e in emails if e not in cache))
        if unknown:
            found = set(super()._find_aliases(unknown))
            cache.update((e, e in found) for e in unknown)
        return [e for e in emails if cache[e]]

    @api.model
    def search_fetch(self, domain, field_names=None, offset=0, limit=None, order=None):
        # Odoo lists every alias domain three times per incoming email (bounce detection,
        # reply-to, loop checks); during one fetch run the list does not change.
        cache = self.env.context.get("mail_converter_run_cache")
        if cache is None or domain or offset or field_names:
            return super().search_fetch(domain, field_names, offset, limit, order)
        key = ("mail.alias.domain", limit, order, self.env.su)
        if key not in cache:
            cache[key] = super().search_fetch(domain, field_names, offset, limit, order).ids
        return self.browse(cache[key])

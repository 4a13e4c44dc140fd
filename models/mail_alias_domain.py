from odoo import api, models

from ..tools.run_cache import RunCache


class MailAliasDomain(models.Model):
    _inherit = "mail.alias.domain"

    @api.model
    def _find_aliases(self, email_list):
        # The same recipients come back in every email of a run; whether an address is an
        # alias does not change meanwhile: Odoo's own checks ask the run's cache too.
        cache = self.env.context.get("mail_converter_run_cache")
        if not isinstance(cache, RunCache):
            return super()._find_aliases(email_list)
        return cache.aliases(email_list, super()._find_aliases)

    @api.model
    def search_fetch(self, domain, field_names=None, offset=0, limit=None, order=None):
        # Odoo lists every alias domain three times per incoming email (bounce detection,
        # reply-to, loop checks); while the converter parses and posts, its environment
        # carries the run's cache: the list does not change within a run.
        cache = self.env.context.get("mail_converter_run_cache")
        if not isinstance(cache, RunCache) or domain or offset or field_names:
            return super().search_fetch(domain, field_names, offset, limit, order)
        ids = cache.get(
            ("mail.alias.domain", limit, order, self.env.su),
            lambda: super(MailAliasDomain, self).search_fetch(domain, None, 0, limit, order).ids,
        )
        return self.browse(ids)

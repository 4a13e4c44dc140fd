from odoo import api, models

from ..tools.prefetch import prefetch_of


class MailGatewayAllowed(models.Model):
    _inherit = "mail.gateway.allowed"

    @api.model
    def search_count(self, domain, limit=None):
        # Odoo's loop guard asks, for every email, whether its sender is on this list; a batch
        # planning its emails asked for all its senders at once (mail.converter.batch).
        email = self._converter_asked_email(domain)
        prefetch = prefetch_of(self.env.context)
        if email and prefetch is not None and prefetch.knows("gateway_allowed", [email]):
            count = prefetch.get("gateway_allowed", email) or 0
            return min(count, limit) if limit else count
        return super().search_count(domain, limit=limit)

    @api.model
    def _converter_asked_email(self, domain):
        """The address of ``[("email_normalized", "=", address)]``, the one question answered
        from a batch's prefetch; ``None`` for any other domain."""
        if isinstance(domain, list) and len(domain) == 1:
            condition = domain[0]
            if (
                isinstance(condition, (list, tuple))
                and len(condition) == 3
                and tuple(condition[:2]) == ("email_normalized", "=")
                and isinstance(condition[2], str)
            ):
                return condition[2]
        return None

    @api.model
    def _converter_prefetch_allowed(self, emails, prefetch):
        """Count the entries of all ``emails`` in one query, for :meth:`search_count`."""
        emails = list(dict.fromkeys(filter(None, emails)))
        if not emails:
            return
        counts = dict(
            self.sudo()._read_group(
                [("email_normalized", "in", emails)], ["email_normalized"], ["__count"]
            )
        )
        prefetch.fill("gateway_allowed", emails, counts)

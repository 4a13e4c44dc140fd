"""Parser bombs: an email with too many MIME parts is never parsed."""

from odoo import api, models

from ..tools import mime


class MailConverterPlanner(models.AbstractModel):
    _inherit = "mail.converter.planner"

    @api.model
    def _converter_too_many_parts(self, raw, source):
        """Why ``raw`` has too many MIME parts to parse (the mailbox's limit), or ``""``.

        Counted by a linear scan of its boundaries before anything parses the email;
        it stays on the mail server like any too large one.
        """
        limit = source.extra.get("max_parts", mime.MAX_PARTS)
        if not limit or mime.count_parts(raw, stop=limit + 1) <= limit:
            return ""
        return self.env._(
            "Too many MIME parts: more than %(limit)s (the mailbox's limit); left on the mail "
            "server",
            limit=limit,
        )

    @api.model
    def _plan_size(self, mail, source, plan):
        """The simulator shows the part limit too, as the pipeline checks it before reading."""
        result = super()._plan_size(mail, source, plan)
        if not plan.final:
            reason = self._converter_too_many_parts(mail.raw, source)
            if reason:
                plan.too_large = True
                plan.finish("rejected", reason)
        return result

"""Parser bombs: an email with too many MIME parts is never parsed (C11)."""

from odoo import api, models

from ..tools import mime
from ..tools.budget import OverBudget


class MailConverter(models.AbstractModel):
    _inherit = "mail.converter"

    @api.model
    def _converter_too_large(self, raw, source, origin):
        """Also too large: more MIME parts than the mailbox allows, counted by a linear scan
        before anything parses the email; it stays on the mail server like any too large one."""
        reason = super()._converter_too_large(raw, source, origin)
        if reason:
            return reason
        limit = source.extra.get("max_parts", mime.MAX_PARTS)
        if not limit:
            return ""
        parts = mime.count_parts(raw, stop=limit + 1)
        if parts <= limit:
            return ""
        return self.env._(
            "Too many MIME parts: more than %(limit)s (the mailbox's limit); left on the mail "
            "server",
            limit=limit,
        )

    @api.model
    def _log_failure(self, log, raw, exc):
        """An email over its time budget says so in its reason, not only in its error."""
        result = super()._log_failure(log, raw, exc)
        if isinstance(exc, OverBudget):
            log.reason = str(exc)
        return result

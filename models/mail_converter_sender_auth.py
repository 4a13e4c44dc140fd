"""Sender authentication of one email: its outcome, and whether its sender is trusted (C11)."""

from odoo import api, models

from ..tools import addresses, sender_auth

# Authentication-Results headers read; more than this is hostile (the tool caps them too).
MAX_HEADERS = 20


class MailConverterSenderAuth(models.AbstractModel):
    _name = "mail.converter.sender.auth"
    _description = "Mail converter: sender authentication"

    @api.model
    def _converter_sender_auth(self, message, source, raw=None):
        """The :class:`tools.sender_auth.SenderAuth` of ``message`` (an ``email.message``) as the
        mailbox's trusted servers (and, optionally, its own DKIM check) see it; its ``untrusted``
        attribute says whether the sender counts as unknown."""
        settings = source.extra.get("sender_auth") or {}
        try:
            values = [
                str(v) for v in (message.get_all("Authentication-Results") or [])[:MAX_HEADERS]
            ]
            from_email = self._converter_auth_from(message)
        except Exception:  # noqa: BLE001 - unreadable headers: nothing proves the sender
            values, from_email = [], ""
        dkim_result = None
        if settings.get("verify_dkim") and raw:
            dkim_result = sender_auth.verify_dkim(raw, from_email)
        auth = sender_auth.evaluate(values, settings.get("servers", ()), from_email, dkim_result)
        auth.untrusted = self._converter_auth_untrusted(auth, settings)
        return auth

    @api.model
    def _converter_auth_from(self, message):
        """The From address authentication must vouch for (split before decoding)."""
        found = addresses.parse_header(str(message.get("From") or ""), "from", limit=1)
        return found[0].email if found else ""

    @api.model
    def _converter_auth_untrusted(self, auth, settings):
        """Whether a sender with this outcome counts as unknown; override to trust differently."""
        return auth.outcome == sender_auth.FAIL or (
            auth.outcome == sender_auth.NONE and bool(settings.get("require"))
        )

    @api.model
    def _converter_log_values(self, auth):
        """The log values recording ``auth``."""
        if auth is None:
            return {}
        return {"sender_auth": auth.outcome, "sender_auth_detail": auth.detail[:512]}

"""Sender authentication settings of a converter mailbox (C11)."""

import dataclasses

from odoo import api, fields, models

from ..tools import sender_auth

# Mail servers whose receiving side is known, by the host the mailbox logs in to.
_HOSTS = {
    "imap.gmail.com": "gmail",
    "pop.gmail.com": "gmail",
    "outlook.office365.com": "outlook",
    "imap-mail.outlook.com": "outlook",
}


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    auth_servers = fields.Text(
        "Trusted receiving servers",
        compute="_compute_auth_servers",
        store=True,
        readonly=False,
        help="One authserv-id per line (the first word of the Authentication-Results headers your "
        "mail server writes, e.g. mx.google.com); '*.example.com' trusts its subdomains and "
        "'(missing)' trusts Exchange Online's headers, which have none. Only the topmost such "
        "headers count: the sender may have written any header further down.",
    )
    require_sender_auth = fields.Boolean(
        "Require sender authentication",
        help="Treat a sender that the trusted servers did not authenticate (no verdict) like one "
        "that failed: ID tags and replies do not post on existing records, BCC logging refuses "
        "the email and the message gets no author. Off: only a failure does that.",
    )
    converter_verify_dkim = fields.Boolean(
        "Verify DKIM",
        help="The converter also checks DKIM signatures itself (DNS queries, 3 s timeout each), "
        "for mail servers that record no Authentication-Results.",
    )

    @api.depends("server_type", "server")
    def _compute_auth_servers(self):
        for server in self:
            if server.auth_servers:
                continue
            kind = server.server_type
            if kind not in sender_auth.DEFAULT_AUTH_SERVERS:
                kind = _HOSTS.get((server.server or "").strip().lower())
            defaults = sender_auth.DEFAULT_AUTH_SERVERS.get(kind)
            server.auth_servers = "\n".join(defaults) if defaults else False

    def _converter_source(self):
        source = super()._converter_source()
        return dataclasses.replace(
            source, extra=dict(source.extra, sender_auth=self._converter_source_sender_auth())
        )

    def _converter_source_sender_auth(self):
        """The sender authentication settings as a plain value, read once per run."""
        self.ensure_one()
        return {
            "servers": sender_auth.parse_servers(self.auth_servers),
            "require": self.require_sender_auth,
            "verify_dkim": self.converter_verify_dkim,
        }

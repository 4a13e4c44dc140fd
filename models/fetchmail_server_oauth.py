import logging
from datetime import datetime, timezone

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools.connection import MailboxError, parse_imap_id, parse_mechanisms

_logger = logging.getLogger(__name__)


class FetchmailServerOauth(models.Model):
    """Real mailboxes (issue 19): OAuth server types, tokens that never die silently,
    and the advanced connection parameters.

    The converter logs in through Odoo's ``_imap_login__``, so ``microsoft_outlook``,
    ``google_gmail`` and any other module overriding it log converter mailboxes in too;
    neither is a dependency: their fields are read only when their server type is used.
    """

    _inherit = "fetchmail.server"

    converter_avoid_mechanisms = fields.Char(
        "Avoid mechanisms",
        help="SASL mechanisms the server advertises but which fail, such as PLAIN: the password "
        "login then uses AUTHENTICATE with another one (LOGIN). Empty: the IMAP LOGIN command, "
        "as Odoo does. Never changes TLS.",
    )
    converter_imap_id = fields.Text(
        "IMAP ID",
        help="Sent with the ID command (RFC 2971) right after logging in, for servers that insist "
        "on it: name=value pairs, one a line or separated by commas, e.g. name=Odoo.",
    )
    converter_timeout = fields.Integer(
        "Timeout (seconds)",
        default=60,
        help="How long the converter waits for the mail server before giving up (5 to 600).",
    )
    converter_reconnect_needed = fields.Boolean(
        "Must be reconnected",
        readonly=True,
        copy=False,
        help="The provider refused to renew the mailbox's token: an administrator must sign in "
        "again with Reconnect. Mail waits on the server meanwhile.",
    )
    converter_auth_type = fields.Char("Authentication", compute="_compute_converter_auth_type")
    converter_token_expiry = fields.Datetime(
        "Token expires",
        compute="_compute_converter_auth_type",
        help="When the current OAuth access token expires; Odoo renews it before.",
    )

    @api.model
    def _converter_oauth_providers(self):
        """OAuth server types the converter knows, with the fields of their modules;
        override to add a provider."""
        return {
            "outlook": {
                "label": self.env._("Microsoft 365"),
                "refresh_token": "microsoft_outlook_refresh_token",
                "access_token": "microsoft_outlook_access_token",
                "expiration": "microsoft_outlook_access_token_expiration",
                "connect": "open_microsoft_outlook_uri",
            },
            "gmail": {
                "label": self.env._("Google Workspace"),
                "refresh_token": "google_gmail_refresh_token",
                "access_token": "google_gmail_access_token",
                "expiration": "google_gmail_access_token_expiration",
                "connect": "open_google_gmail_uri",
            },
        }

    def _converter_oauth_provider(self):
        """This mailbox's OAuth provider (see :meth:`_converter_oauth_providers`), or ``None``
        for a password mailbox or when the provider's module is not installed."""
        self.ensure_one()
        provider = self._converter_oauth_providers().get(self.server_type)
        if provider and provider["expiration"] in self._fields:
            return provider
        return None

    @api.depends("server_type")
    def _compute_converter_auth_type(self):
        for server in self:
            provider = server._converter_oauth_provider()
            if not provider:
                server.converter_auth_type = self.env._("Password")
                server.converter_token_expiry = False
                continue
            server.converter_auth_type = self.env._(
                "OAuth2 (%(provider)s)", provider=provider["label"]
            )
            # Admin-only fields; when a token expires is no secret.
            expiration = server.sudo()[provider["expiration"]]
            server.converter_token_expiry = (
                datetime.fromtimestamp(expiration, tz=timezone.utc).replace(tzinfo=None)
                if expiration
                else False
            )

    # -- advanced connection parameters --------------------------------------------
    @api.constrains("converter_avoid_mechanisms", "converter_imap_id", "converter_timeout")
    def _check_converter_advanced(self):
        for server in self:
            try:
                parse_mechanisms(server.converter_avoid_mechanisms)
            except ValueError as exc:
                raise ValidationError(
                    self.env._(
                        "Avoid mechanisms: %(name)s is not a SASL mechanism (PLAIN, LOGIN, "
                        "CRAM-MD5, NTLM, ...).",
                        name=exc.args[0],
                    )
                ) from exc
            try:
                parse_imap_id(server.converter_imap_id)
            except ValueError as exc:
                raise ValidationError(
                    self.env._(
                        "IMAP ID: %(entry)s is not name=value (a name of up to 30 letters, digits, "
                        "dots or dashes; a value without quotes or backslashes).",
                        entry=exc.args[0],
                    )
                ) from exc
            if not 5 <= server.converter_timeout <= 600:
                raise ValidationError(self.env._("The timeout must be between 5 and 600 seconds."))

    def _converter_connection_options(self):
        """Keyword arguments of :func:`..tools.connection.connect` beyond the address and
        the password: Odoo's login seam and the advanced parameters."""
        self.ensure_one()
        options = {"timeout": self.converter_timeout or 60}
        if self._get_connection_type() == "imap":
            options.update(
                authenticate=self._converter_imap_login,
                avoid_mechanisms=parse_mechanisms(self.converter_avoid_mechanisms),
                imap_id=parse_imap_id(self.converter_imap_id),
            )
        return options

    def _converter_imap_login(self, client):
        """Log ``client`` in through Odoo's ``_imap_login__``; a token the provider refuses
        becomes :class:`OAuthTokenRefused`."""
        provider = self._converter_oauth_provider()
        try:
            self._imap_login__(client)
        except UserError as exc:
            if not provider:
                raise MailboxError(str(exc)) from exc
            raise OAuthTokenRefused(
                self.env._(
                    "The %(provider)s account must be reconnected: %(message)s",
                    provider=provider["label"],
                    message=exc.args[0] if exc.args else str(exc),
                )
            ) from exc

    # -- tokens that never die silently -------------------------------------------
    def _converter_record_error(self, exc):
        """A refused token needs a person at once: flag it and alert now, not after a day."""
        refused = isinstance(exc, OAuthTokenRefused)
        if refused and not self.converter_reconnect_needed:
            self.converter_reconnect_needed = True
        result = super()._converter_record_error(exc)
        if refused and not self.converter_alert_sent:
            self._converter_send_alert()
        return result

    def _converter_record_success(self):
        if self.converter_reconnect_needed:
            self.converter_reconnect_needed = False
        return super()._converter_record_success()

    def write(self, vals):
        # A new grant from Odoo's consent flow: the mailbox no longer waits for a person.
        granted = any(
            vals.get(p["refresh_token"]) for p in self._converter_oauth_providers().values()
        )
        if granted and "converter_reconnect_needed" not in vals:
            vals = dict(vals, converter_reconnect_needed=False)
        return super().write(vals)

    def action_converter_reconnect(self):
        """Open the provider's consent screen through Odoo's own OAuth flow."""
        self.ensure_one()
        self._converter_check_mailbox_admin()
        provider = self._converter_oauth_provider()
        if not provider:
            raise UserError(
                self.env._("%(mailbox)s does not sign in with OAuth.", mailbox=self.name)
            )
        return getattr(self, provider["connect"])()


class OAuthTokenRefused(MailboxError):
    """The provider refused to renew the mailbox's token: someone must sign in again."""

"""Real mailboxes (issue 19): Microsoft 365 and Google Workspace mailboxes over XOAUTH2.

Dovecot runs with TLS and its ``oauth2`` passdb, which validates every bearer
token by RFC 7662 introspection against a local identity provider; Odoo's own
``microsoft_outlook`` code refreshes tokens from the same provider
(``microsoft_outlook.endpoint``). Gmail's token endpoint is fixed: only its
token fetch is pointed at the provider, its XOAUTH2 login stays real.

Neither OAuth module is a dependency: without one, its tests skip and say why.
"""

import logging
import shutil
import tempfile
import time
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import requests

from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.fetchmail_server_oauth import OAuthTokenRefused
from .common import MAILBOX_USERS, MailConverterDovecotCase, free_port_base, make_email
from .dovecot import Dovecot
from .oauth_idp import REVOKED_MESSAGE, OAuthProvider

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install", "mail_converter")
class TestOAuthMailboxes(MailConverterDovecotCase):
    @classmethod
    def _setup_mail_server(cls):
        cls.idp = OAuthProvider().start()
        cls.addClassCleanup(cls.idp.stop)
        cls._dovecot_dir = tempfile.mkdtemp(prefix="mc-dovecot-oauth-")
        cls.dovecot = Dovecot(
            cls._dovecot_dir, free_port_base(), MAILBOX_USERS, oauth2_url=cls.idp.url + "introspect"
        ).start()
        cls.addClassCleanup(shutil.rmtree, cls._dovecot_dir, ignore_errors=True)
        cls.addClassCleanup(cls.dovecot.stop)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        params = cls.env["ir.config_parameter"].sudo()
        for key, value in {
            "microsoft_outlook.endpoint": cls.idp.url,
            "microsoft_outlook_client_id": "odoo-test",
            "microsoft_outlook_client_secret": "secret",
            "google_gmail_client_id": "odoo-test",
            "google_gmail_client_secret": "secret",
        }.items():
            params.set_param(key, value)
        cls.responsible = new_test_user(
            cls.env,
            login="mailbox_owner",
            groups="base.group_user,mail_converter.group_mail_converter_manager",
        )

    def setUp(self):
        super().setUp()
        self.idp.calls.clear()
        self.log_start = len(self.dovecot.log_lines())

    def dovecot_log(self, needle):
        """What Dovecot logged during this test."""
        return self.dovecot.log_lines(needle, self.log_start)

    def require(self, module):
        """Skip, saying why, when an OAuth module is not installed."""
        if not self.env["ir.module.module"]._get(module).state == "installed":
            reason = f"{module} is not installed: its converter mailboxes cannot be tested"
            _logger.info("Mail converter: %s", reason)
            self.skipTest(reason)

    def oauth_server(self, server_type, account="support", expired=False, **values):
        """A converter mailbox of ``server_type`` signing in as ``account@company.example``
        (Dovecot's account ``account``), with a fresh grant from the provider."""
        refresh, access, expires_at = self.idp.grant(account)
        prefix = {"outlook": "microsoft_outlook", "gmail": "google_gmail"}[server_type]
        return self.make_server(
            user=f"{account}@company.example",
            security="ssl",
            server_type=server_type,
            password=False,
            converter_responsible_id=self.responsible.id,
            **{
                f"{prefix}_refresh_token": refresh,
                f"{prefix}_access_token": access,
                f"{prefix}_access_token_expiration": 0 if expired else expires_at,
            },
            **values,
        )

    def xoauth2_logins(self, user="support"):
        return self.dovecot_log(f"Login: user=<{user}>, method=XOAUTH2")

    # -- Microsoft 365 -----------------------------------------------------------
    def test_outlook_mailbox_converts_with_a_valid_token(self):
        self.require("microsoft_outlook")
        server = self.oauth_server("outlook")
        self.append(make_email(subject="Outlook printer"))
        self.assertFalse(self.fetch(server, cron=True))
        self.assertEqual(len(self.tickets("Outlook printer")), 1)
        self.assertEqual(self.idp.count("token"), 0, "a valid token is not refreshed")
        self.assertTrue(self.xoauth2_logins(), "the real Dovecot saw an XOAUTH2 login")
        self.assertEqual(server.converter_auth_type, "OAuth2 (Microsoft 365)")
        self.assertTrue(server.converter_token_expiry)
        # Listed and tested like any IMAP mailbox.
        server.button_confirm_login()
        self.assertEqual(server.state, "done")

    def test_outlook_expired_token_is_refreshed_by_odoo(self):
        self.require("microsoft_outlook")
        server = self.oauth_server("outlook", expired=True)
        old_token = server.microsoft_outlook_access_token
        self.append(make_email(subject="Expired token mail"))
        self.assertFalse(self.fetch(server, cron=True))
        self.assertEqual(len(self.tickets("Expired token mail")), 1)
        self.assertEqual(self.idp.calls.count(("token", "refresh_token")), 1)
        self.assertNotEqual(server.microsoft_outlook_access_token, old_token)
        self.assertGreater(server.microsoft_outlook_access_token_expiration, time.time())

    def test_outlook_revoked_token_waits_for_reconnect_and_loses_nothing(self):
        self.require("microsoft_outlook")
        server = self.oauth_server("outlook", expired=True)
        self.idp.revoke("support")
        uid = self.append(make_email(subject="Sent while revoked"))
        self.assertTrue(self.fetch(server, cron=True))  # never raises out of the cron
        self.assertTrue(self.fetch(server), "Fetch Now fails the same way")
        self.assertTrue(server.converter_reconnect_needed)
        self.assertEqual(
            server.converter_last_error,
            "The Microsoft 365 account must be reconnected: "
            f"An error occurred when fetching the access token. {REVOKED_MESSAGE}",
        )
        self.assertFalse(self.tickets("Sent while revoked"))
        self.assertNotIn("\\Seen", self.server_flags()[uid], "the mail waits on the server")
        warning = self.env.ref("mail.mail_activity_data_warning")
        activities = server.activity_ids.filtered(lambda a: a.activity_type_id == warning)
        self.assertEqual(activities.user_id, self.responsible, "one activity, for the responsible")
        self.assertEqual(len(activities), 1)

        # Reconnect opens Odoo's consent flow; the provider sends back a code that Odoo's
        # own controller code exchanges for tokens.
        action = server.action_converter_reconnect()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertTrue(action["url"].startswith(self.idp.url + "authorize"))
        self.idp.consent_as("support")
        redirect = requests.get(action["url"], allow_redirects=False, timeout=5)
        callback = parse_qs(urlsplit(redirect.headers["Location"]).query)
        self.assertTrue(
            redirect.headers["Location"].split("?")[0].endswith("/microsoft_outlook/confirm")
        )
        refresh, access, expiration = server._fetch_outlook_refresh_token(callback["code"][0])
        server.write(
            {
                "microsoft_outlook_refresh_token": refresh,
                "microsoft_outlook_access_token": access,
                "microsoft_outlook_access_token_expiration": expiration,
            }
        )
        self.assertFalse(server.converter_reconnect_needed)

        self.assertFalse(self.fetch(server))
        self.assertEqual(len(self.tickets("Sent while revoked")), 1, "converted after reconnecting")
        self.assertFalse(server.converter_last_error)
        self.assertFalse(server.activity_ids.filtered(lambda a: a.activity_type_id == warning))

    # -- Google Workspace ---------------------------------------------------------
    def _gmail_token_fetch(self):
        """Gmail's token request, sent to the local provider instead of Google's fixed URL."""
        idp = self.idp

        def fetch_token(server, grant_type, **values):
            response = requests.post(
                idp.url + "token", data={"grant_type": grant_type, **values}, timeout=5
            )
            if not response.ok:
                raise UserError(server.env._("An error occurred when fetching the access token."))
            return response.json()

        model = type(self.env["google.gmail.mixin"])
        return patch.object(model, "_fetch_gmail_token", fetch_token)

    def test_gmail_mailbox_folders_refresh_and_labels(self):
        self.require("google_gmail")
        for folder in ("[Gmail]/Sent Mail", "[Gmail]/All Mail", "Receipts"):
            self.dovecot.create_folder("support", folder)
        server = self.oauth_server("gmail", expired=True)
        with self._gmail_token_fetch():
            action = server.action_list_folders()
        self.assertEqual(self.idp.calls.count(("token", "refresh_token")), 1)
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        ticked = wizard.line_ids.filtered("selected")
        self.assertEqual(
            {(line.path, line.direction) for line in ticked},
            {("INBOX", "inbound"), ("[Gmail]/Sent Mail", "outbound")},
            "Gmail's defaults: INBOX and its \\Sent folder, not All Mail",
        )
        wizard.action_apply()
        self.env["mail.converter.folder"].create({"server_id": server.id, "path": "Receipts"})

        # One message under two labels (two IMAP folders on Gmail): converted once, by the log.
        raw = make_email(subject="Two labels")
        self.append(raw)
        self.append(raw, folder="Receipts")
        with self._gmail_token_fetch():
            self.assertFalse(self.fetch(server, cron=True))
        self.assertTrue(self.xoauth2_logins())
        self.assertEqual(len(self.tickets("Two labels")), 1)
        self.assertEqual(
            sorted(self.logs(server).mapped("state")), ["done", "duplicate"], "the second label"
        )

    def test_gmail_revoked_token_is_shown(self):
        self.require("google_gmail")
        server = self.oauth_server("gmail", expired=True)
        self.idp.revoke("support")
        with self._gmail_token_fetch():
            self.assertTrue(self.fetch(server, cron=True))
        self.assertTrue(server.converter_reconnect_needed)
        self.assertTrue(
            server.converter_last_error.startswith(
                "The Google Workspace account must be reconnected: "
            )
        )

    # -- advanced connection parameters -----------------------------------------
    def test_avoiding_plain_logs_in_with_login(self):
        server = self.make_server(converter_avoid_mechanisms="PLAIN")
        self.append(make_email(subject="Avoid plain"))
        self.log_start = len(self.dovecot.log_lines())  # not the test's own APPEND login
        self.assertFalse(self.fetch(server))
        self.assertEqual(len(self.tickets("Avoid plain")), 1)
        self.assertTrue(self.dovecot_log("Login: user=<support>, method=LOGIN"))
        self.assertFalse(self.dovecot_log("Login: user=<support>, method=PLAIN"))
        # Without it, the same mailbox logs in as Odoo does (Dovecot runs LOGIN as PLAIN).
        server.converter_avoid_mechanisms = False
        self.assertFalse(self.fetch(server))
        self.assertTrue(self.dovecot_log("Login: user=<support>, method=PLAIN"))

    def test_imap_id_is_sent(self):
        server = self.make_server(converter_imap_id="name=Odoo\nversion=19.0")
        self.assertFalse(self.fetch(server))
        self.assertTrue(self.dovecot_log("ID sent: name=Odoo, version=19.0"))

    def test_advanced_parameters_are_validated_on_save(self):
        server = self.make_server()
        for values in (
            {"converter_avoid_mechanisms": "PLAIN TLS"},
            {"converter_imap_id": 'name=x" "y'},
            {"converter_imap_id": "just text"},
            {"converter_timeout": 0},
            {"converter_timeout": 3600},
        ):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                server.write(values)
                self.env.flush_all()
        server.write({"converter_avoid_mechanisms": "plain", "converter_timeout": 120})
        self.assertEqual(server._converter_connection_options()["avoid_mechanisms"], ("PLAIN",))


@tagged("post_install", "-at_install", "mail_converter")
class TestOAuthReconnectUi(HttpCase):
    def test_reconnect_tour(self):
        if self.env["ir.module.module"]._get("microsoft_outlook").state != "installed":
            _logger.info("Mail converter: microsoft_outlook is not installed: no Reconnect tour")
            self.skipTest("microsoft_outlook is not installed")
        idp = OAuthProvider().start()
        self.addCleanup(idp.stop)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("microsoft_outlook.endpoint", idp.url)
        params.set_param("microsoft_outlook_client_id", "odoo-test")
        params.set_param("microsoft_outlook_client_secret", "secret")
        self.env["fetchmail.server"].search([]).action_archive()
        server = self.env["fetchmail.server"].create(
            {
                "name": "Tour M365",
                "server_type": "outlook",
                "server": "127.0.0.1",
                "port": 1,
                "is_ssl": True,
                "user": "support@company.example",
                "use_converter": True,
                "state": "done",
                "object_id": self.env["ir.model"]._get("helpdesk.ticket").id,
                "microsoft_outlook_refresh_token": "revoked",
            }
        )
        server._converter_record_error(
            OAuthTokenRefused(f"The Microsoft 365 account must be reconnected: {REVOKED_MESSAGE}")
        )
        self.assertTrue(server.converter_reconnect_needed)
        idp.consent_as("support@company.example")
        self.start_tour(
            "/odoo/action-mail_converter.action_mail_converter_overview",
            "mail_converter_reconnect",
            login="admin",
        )
        self.assertEqual(idp.calls.count(("token", "authorization_code")), 1)
        self.assertIn(server.microsoft_outlook_refresh_token, idp.refresh)
        self.assertFalse(server.converter_reconnect_needed)

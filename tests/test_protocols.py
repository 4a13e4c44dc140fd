import poplib

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import MailConverterDovecotCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestProtocols(MailConverterDovecotCase):
    def _pop_uidls(self, user="support"):
        client = poplib.POP3("127.0.0.1", self.dovecot.pop3_port)
        client.user(user)
        client.pass_(user)
        try:
            return [line.split()[1] for line in client.uidl()[1]]
        finally:
            client.quit()

    def test_imap_ssl_and_starttls(self):
        for security in ("ssl", "starttls"):
            server = self.make_server(security=security, name=f"IMAP {security}")
            self.dovecot.reset_user("support")
            self.append(make_email(subject=f"Over {security}"))
            self.assertIsNone(self.fetch(server))
            self.assertEqual(len(self.tickets(f"Over {security}")), 1, security)

    def test_pop3_keep_is_incremental_by_uidl(self):
        server = self.make_server(protocol="pop")
        self.append(make_email(subject="Pop one"))
        self.fetch(server)
        self.append(make_email(subject="Pop two"))
        self.fetch(server)
        self.fetch(server)
        self.assertEqual(len(self.tickets("Pop one")), 1)
        self.assertEqual(len(self.tickets("Pop two")), 1)
        self.assertEqual(len(self._pop_uidls()), 2, "keep leaves the messages on the server")
        self.assertEqual(
            set(self.logs(server).mapped("uidl")), {u.decode() for u in self._pop_uidls()}
        )

    def test_pop3_ssl_delete_after_commit_only(self):
        server = self.make_server(protocol="pop", security="ssl")
        server.converter_folder_ids.after_action = "delete"
        self.append(make_email(subject="Pop delete"))
        self.append(make_email(subject="Pop failing", message_id="<pop-fail@customer.example>"))
        original = type(self.env["mail.converter"])._convert

        def convert(model, raw, summary, source, origin, log, **kwargs):
            if summary.subject == "Pop failing":
                raise ValueError("cannot convert yet")
            return original(model, raw, summary, source, origin, log, **kwargs)

        from unittest.mock import patch

        with patch.object(type(self.env["mail.converter"]), "_convert", convert):
            self.fetch(server)
        self.assertEqual(len(self.tickets("Pop delete")), 1)
        # The converted message is deleted; the failed one stays for a retry.
        self.assertEqual(len(self._pop_uidls()), 1)
        self.fetch(server)
        self.assertEqual(len(self.tickets("Pop failing")), 1)
        self.assertEqual(self._pop_uidls(), [])

    def test_test_connection_and_list_folders(self):
        self.dovecot.create_folder("support", "Sent")
        self.dovecot.create_folder("support", "Support/Urgent")
        server = self.make_server(state="draft")
        server.button_confirm_login()
        self.assertEqual(server.state, "done")
        action = server.action_list_folders()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        self.assertEqual(set(wizard.line_ids.mapped("path")), {"INBOX", "Sent", "Support/Urgent"})
        self.assertEqual(
            wizard.line_ids.filtered(lambda line: line.path == "Sent").direction, "outbound"
        )
        wizard.line_ids.filtered(
            lambda line: line.path in ("Sent", "Support/Urgent")
        ).selected = True
        wizard.action_apply()
        self.assertEqual(
            set(server.converter_folder_ids.mapped("path")), {"INBOX", "Sent", "Support/Urgent"}
        )
        self.assertEqual(
            server.converter_folder_ids.filtered(lambda f: f.path == "Sent").direction, "outbound"
        )

        wrong = self.make_server(password="wrong", state="draft")
        with self.assertRaisesRegex(UserError, "LOGIN as support failed"):
            wrong.button_confirm_login()
        missing = self.make_server(folders=[{"path": "Nowhere"}], state="draft")
        with self.assertRaisesRegex(UserError, "Nowhere"):
            missing.button_confirm_login()

    def test_stock_mailbox_keeps_stock_behaviour(self):
        stock = self.make_server(use_converter=False, name="stock")
        self.assertFalse(stock.converter_folder_ids)
        uid = self.append(make_email(subject="Stock path"))
        self.fetch(stock)
        self.assertEqual(len(self.tickets("Stock path")), 1)
        self.assertFalse(self.logs(stock), "stock mailboxes are not logged by the converter")
        # Stock Odoo marks what it processed as read.
        self.assertIn("\\Seen", self.dovecot.messages("support")[uid])

    def test_converter_refuses_mailboxes_it_cannot_read(self):
        with self.assertRaisesRegex(ValidationError, "IMAP and POP3"):
            self.make_server(server_type="local", name="local gateway")

    def test_switching_on_records_activation_date_and_default_folder(self):
        server = self.make_server(use_converter=False, name="later")
        self.assertFalse(server.activation_date)
        server.use_converter = True
        self.assertTrue(server.activation_date)
        self.assertEqual(server.converter_folder_ids.mapped("path"), ["INBOX"])
        self.assertLessEqual(server.activation_date, fields.Datetime.now())

"""Hostile input (issue 9, part B2): crafted headers, oversize email, POP3 protocol errors, TLS.

Each test is an attack that stalled a run, blocked a mailbox or lost mail before.
``bench/hostile.py`` measures the times; these tests check what users see.
"""

import base64
import poplib
from unittest.mock import patch

from odoo.tests import Form, tagged

from ..tools import connection
from .common import MailConverterCase, MailConverterDovecotCase, make_email

MB = 1024 * 1024


def crafted_email(subject_words=50_000):
    """An email whose Subject is 1 MB of encoded words and whose To is hostile for parsers."""
    subject = "=?utf-8?q?caf=C3=A9?= " * subject_words
    to = (
        "support@company.example, "
        + "(" * 20_000
        + ", "
        + "a@"
        + "." * 50_000
        + "@, "
        + "x:" * 20_000
    )
    return (
        "From: Alice Customer <alice@customer.example>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <crafted@customer.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "The printer is on fire.\r\n"
    ).encode()


def big_email(subject, size, message_id):
    """An email of about ``size`` bytes (base64 makes an attachment a third larger)."""
    return make_email(
        subject=subject,
        message_id=message_id,
        attachments=[("scan.bin", b"\x00" * (size * 3 // 4 - 4096), "application/octet-stream")],
    )


@tagged("post_install", "-at_install", "mail_converter")
class TestHostileMail(MailConverterCase):
    def test_crafted_headers_are_converted_with_a_note(self):
        self.append(crafted_email())
        self.append(make_email(subject="After the crafted one"))
        self.assertIsNone(self.fetch())
        log = self.logs(message_id="<crafted@customer.example>")
        self.assertEqual(log.state, "done", log.error)
        self.assertTrue(log.subject.startswith("cafécafé"), "adjacent encoded words join")
        self.assertIn("Subject", log.reason)
        self.assertIn("cut", log.reason)
        ticket = self.env[log.model].browse(log.res_id)
        self.assertEqual(ticket._name, "helpdesk.ticket")
        self.assertLessEqual(len(ticket.name), 70_000)
        self.assertEqual(ticket.partner_id.email, "alice@customer.example")
        self.assertEqual(len(self.tickets("After the crafted one")), 1)

    def test_oversize_email_is_logged_and_kept_on_the_server(self):
        self.server.converter_max_size = 1
        folder = self.server.converter_folder_ids
        folder.after_action = "delete"
        big = self.append(big_email("Scanned archive", 2 * MB, "<big@customer.example>"))
        small = self.append(make_email(subject="Small one"))
        self.assertIsNone(self.fetch())
        log = self.logs(message_id="<big@customer.example>")
        self.assertRecordValues(log, [{"state": "rejected", "kind": "oversize"}])
        self.assertEqual(log.reason, "Too large: 2 MB > 1 MB")
        self.assertGreater(log.message_size, 1.9 * MB)
        self.assertEqual(log.subject, "Scanned archive", "its headers are read, not its body")
        self.assertFalse(self.tickets("Scanned archive"))
        # The delete policy never deletes what Odoo did not store; the small one is gone.
        self.assertEqual(set(self.server_flags()), {big})
        self.assertNotIn(small, self.server_flags())
        self.fetch()
        self.assertEqual(len(self.logs(message_id="<big@customer.example>")), 1)
        # Raising the limit converts it on the next run, on the same log row.
        self.server.converter_max_size = 5
        self.fetch()
        self.assertRecordValues(log, [{"state": "done", "kind": "mail"}])
        self.assertEqual(len(self.tickets("Scanned archive")), 1)
        self.assertEqual(self.server_flags(), {})

    def test_oversize_email_follows_a_mark_as_read_folder(self):
        self.server.converter_max_size = 1
        self.server.converter_folder_ids.after_action = "seen"
        uid = self.append(big_email("Big and read", 2 * MB, "<big-read@customer.example>"))
        self.fetch()
        self.assertEqual(self.logs(message_id="<big-read@customer.example>").state, "rejected")
        self.assertIn("\\Seen", self.server_flags()[uid])

    def test_simulator_explains_an_oversize_email(self):
        self.server.converter_max_size = 1
        raw = big_email("Simulated big one", 2 * MB, "<sim-big@customer.example>")
        simulator = self.env["mail.converter.simulator"].create(
            {"server_id": self.server.id, "eml_file": base64.b64encode(raw)}
        )
        simulator.action_simulate()
        self.assertEqual(simulator.plan_state, "rejected")
        self.assertIn("Too large: 2 MB > 1 MB", simulator.outcome)


@tagged("post_install", "-at_install", "mail_converter")
class TestHostileProtocols(MailConverterDovecotCase):
    def test_imap_batches_hold_a_bounded_number_of_bytes(self):
        for n in range(5):
            self.append(big_email(f"Two MB {n}", 2 * MB, f"<two-{n}@customer.example>"))
        fetched = []
        original = connection.batch_by_size

        def spy(sizes, budget):
            batches = list(original(sizes, budget))
            fetched.extend(batches)
            return batches

        with (
            patch.object(connection, "BATCH_BYTES", 5 * MB),
            patch.object(connection, "batch_by_size", spy),
        ):
            self.assertIsNone(self.fetch())
        self.assertEqual(len(self.logs(state="done")), 5)
        self.assertEqual([len(batch) for batch in fetched], [2, 2, 1])
        for batch in fetched:
            self.assertLessEqual(sum(size for _uid, size in batch), 5 * MB)

    def test_oversize_email_over_imap_and_pop3(self):
        for protocol in ("imap", "pop"):
            with self.subTest(protocol=protocol):
                self.dovecot.reset_user("support")
                server = self.make_server(protocol=protocol, name=f"big {protocol}")
                server.converter_max_size = 1
                server.converter_folder_ids.after_action = "delete"
                message_id = f"<big-{protocol}@customer.example>"
                self.append(big_email(f"Big over {protocol}", 2 * MB, message_id))
                self.append(make_email(subject=f"Small over {protocol}"))
                self.assertIsNone(self.fetch(server))
                log = self.logs(server, message_id=message_id)
                self.assertRecordValues(
                    log,
                    [{"state": "rejected", "kind": "oversize", "subject": f"Big over {protocol}"}],
                )
                self.assertEqual(log.reason, "Too large: 2 MB > 1 MB")
                self.assertEqual(len(self.tickets(f"Small over {protocol}")), 1)
                self.assertEqual(len(self.server_flags()), 1, "only the big one is left")

    def test_pop3_line_of_100_kb_does_not_block_the_mailbox(self):
        server = self.make_server(protocol="pop")
        server.converter_folder_ids.after_action = "delete"
        self.append(make_email(subject="Before the long line"))
        # One HTML line of 100 KB, as some mailers send it (poplib refuses lines over 64 KB).
        self.append(
            b"From: Alice Customer <alice@customer.example>\r\n"
            b"To: support@company.example\r\n"
            b"Subject: One long line\r\n"
            b"Message-ID: <long-line@customer.example>\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n"
            b"\r\n<p>" + b"x" * 100_000 + b"</p>\r\n"
        )
        self.append(make_email(subject="After the long line"))
        self.assertIsNone(self.fetch(server))
        self.assertFalse(server.converter_last_error)
        for subject in ("Before the long line", "One long line", "After the long line"):
            self.assertEqual(len(self.tickets(subject)), 1, subject)
        self.assertEqual(self.server_flags(), {}, "all three converted, then deleted")

    def test_pop3_protocol_error_fails_that_message_only(self):
        server = self.make_server(protocol="pop")
        self.append(make_email(subject="Pop fine one"))
        self.append(make_email(subject="Pop broken", message_id="<pop-broken@customer.example>"))
        self.append(make_email(subject="Pop fine two"))
        original = connection.Pop3Mailbox._retr

        def retr(mailbox, num, size):
            raw = original(mailbox, num, size)
            if b"Pop broken" in raw:
                raise poplib.error_proto(b"-ERR [SYS/TEMP] message is being delivered")
            return raw

        with patch.object(connection.Pop3Mailbox, "_retr", retr):
            self.assertIsNone(self.fetch(server))
        self.assertFalse(server.converter_last_error)
        self.assertEqual(len(self.tickets("Pop fine one")), 1)
        self.assertEqual(len(self.tickets("Pop fine two")), 1)
        failed = self.logs(server, state="failed")
        self.assertEqual(len(failed), 1)
        self.assertIn("message is being delivered", failed.error)
        # The next run reads it again and converts it on the same log row.
        self.fetch(server)
        self.assertEqual(failed.state, "done")
        self.assertEqual(failed.message_id, "<pop-broken@customer.example>")
        self.assertEqual(len(self.tickets("Pop broken")), 1)
        self.assertEqual(len(self.logs(server)), 3)

    def test_imap_ssl_verifies_certificates_when_asked(self):
        server = self.make_server(security="ssl", verify_tls=True)
        exception = self.fetch(server)
        self.assertIsNotNone(exception, "Dovecot's self-signed certificate is refused")
        self.assertIn("CERTIFICATE_VERIFY_FAILED", server.converter_last_error)


@tagged("post_install", "-at_install", "mail_converter")
class TestTlsDefaults(MailConverterCase):
    def test_new_mailboxes_use_tls_with_verification(self):
        form = Form(self.env["fetchmail.server"])
        form.name = "New support mailbox"
        form.server = "imap.example.com"
        self.assertTrue(form.is_ssl)
        self.assertTrue(form.verify_tls)
        self.assertEqual(form.port, 993)
        form.server_type = "pop"
        self.assertEqual(form.port, 995)
        server = self.env["fetchmail.server"].create(
            {"name": "By RPC", "server": "imap.example.com", "user": "u", "password": "p"}
        )
        self.assertRecordValues(server, [{"is_ssl": True, "verify_tls": True, "port": 993}])
        self.assertFalse(server.converter_tls_warning)

    def test_plaintext_or_unverified_mailboxes_show_a_warning(self):
        plain = self.make_server(security="none")
        self.assertIn("plain text", plain.converter_tls_warning)
        unverified = self.make_server(security="ssl", verify_tls=False, user="sales")
        self.assertIn("certificate", unverified.converter_tls_warning)
        starttls = self.make_server(security="starttls", verify_tls=True, user="archive")
        self.assertFalse(starttls.converter_tls_warning)
        arch = self.env["fetchmail.server"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("converter_tls_warning", arch)
        self.assertIn("alert-warning", arch)

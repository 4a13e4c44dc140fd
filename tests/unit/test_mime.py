"""Unit tests of tools/mime.py: no Odoo, no database, milliseconds."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import mime  # noqa: E402


class TestMime(unittest.TestCase):
    def test_message_id_normalised(self):
        self.assertEqual(
            mime.normalize_message_id("  <Abc@Example.COM> (comment)"), "<Abc@Example.COM>"
        )
        self.assertEqual(mime.normalize_message_id("abc@example.com"), "<abc@example.com>")
        self.assertIsNone(mime.normalize_message_id(""))
        self.assertIsNone(mime.normalize_message_id("not an id at all"))

    def test_key_is_case_insensitive_message_id(self):
        a = mime.summarize(b"Message-ID: <ABC@x>\r\nSubject: a\r\n\r\nbody")
        b = mime.summarize(b"Message-Id:   <abc@x>\r\nSubject: b\r\n\r\nother body")
        self.assertEqual(a.key, b.key)
        self.assertEqual(a.message_id, "<ABC@x>")

    def test_hash_ignores_transport_headers_and_line_endings(self):
        a = mime.summarize(b"Received: from a\r\nFrom: x@y\r\nSubject: s\r\n\r\nbody\r\nline\r\n")
        b = mime.summarize(
            b"Received: from b\nDelivered-To: z@y\nFrom: x@y\nSubject: s\n\nbody\nline\n\n"
        )
        self.assertTrue(a.key.startswith("sha256:"))
        self.assertEqual(a.key, b.key)
        c = mime.summarize(b"From: x@y\r\nSubject: s\r\n\r\nanother body\r\n")
        self.assertNotEqual(a.key, c.key)

    def test_encoded_and_broken_headers(self):
        s = mime.summarize(
            b"Subject: =?utf-8?q?Caf=C3=A9_cr=C3=A8me?=\r\nFrom: =?bogus-charset?q?x?= <a@b>\r\n\r\n"
        )
        self.assertEqual(s.subject, "Caf\u00e9 cr\u00e8me")
        self.assertIn("a@b", s.email_from)
        raw_8bit = "Subject: Gr\u00fc\u00dfe\r\n\r\nk\u00f6rper".encode("latin-1")
        self.assertTrue(mime.summarize(raw_8bit).subject.startswith("Gr"))

    def test_summary_splits_addresses_before_decoding(self):
        """C11: the log's From is the real address, never an encoded display name."""
        raw = (
            b"From: =?utf-8?q?rep=40ourcompany=2Ecom?= <attacker@evil.example>\r\n"
            b"To: =?utf-8?q?Ren=C3=A9e?= <renee@example.fr>, b@example.com\r\n"
            b"Subject: hi\r\n\r\nbody\r\n"
        )
        summary = mime.summarize(raw)
        self.assertEqual(summary.email_from, "attacker@evil.example")
        self.assertEqual(summary.headers["to"], "Ren\u00e9e <renee@example.fr>, b@example.com")
        summary = mime.summarize(b"From: =?utf-8?q?Doe=2C_John?= <j@example.com>\r\n\r\nx")
        self.assertEqual(summary.email_from, '"Doe, John" <j@example.com>')

    def test_no_headers_at_all(self):
        s = mime.summarize(b"just some text without any header\r\n")
        self.assertIsNone(s.message_id)
        self.assertTrue(s.key.startswith("sha256:"))
        self.assertEqual(mime.summarize(b"").subject, "")


class TestRepairCharsets(unittest.TestCase):
    def test_unknown_charset_relabelled(self):
        import email
        import email.policy

        raw = (
            b"Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n"
            b"Content-Type: text/plain; charset=x-nope\r\n\r\ncaf\xe9\r\n--X\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nfine\r\n--X--\r\n"
        )
        msg = email.message_from_bytes(raw, policy=email.policy.SMTP)
        notes = mime.repair_charsets(msg)
        self.assertEqual(notes, ["unknown charset 'x-nope' read as windows-1252"])
        parts = [p.get_content() for p in msg.walk() if not p.is_multipart()]
        self.assertEqual(parts[0].strip(), "caf\u00e9")
        self.assertEqual(mime.repair_charsets(msg), [])

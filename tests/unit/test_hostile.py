"""Hostile input for the pure-Python tools: crafted addresses, headers and sizes.

The sizes are modest, but each input took the former code minutes (quadratic
backtracking or decoding) or crashed it (RecursionError). ``bench/hostile.py``
shows the times growing linearly; these tests check the outcome, not the time.
"""

import email
import email.policy
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import addresses, mime  # noqa: E402


def _email(subject=b"Hello", to=b"support@company.example", extra=b"", body=b"Body\r\n"):
    return (
        b"From: Alice <alice@customer.example>\r\n"
        b"To: " + to + b"\r\n"
        b"Subject: " + subject + b"\r\n"
        b"Message-ID: <hostile@customer.example>\r\n" + extra + b"\r\n" + body
    )


class TestHostileAddresses(unittest.TestCase):
    def test_address_check_does_not_backtrack(self):
        # 100 KB of dots between two @: the former regex needed about 70 s.
        self.assertEqual(addresses.normalize_email("a@" + "." * 100_000 + "@"), "")
        self.assertEqual(addresses.normalize_email("a@" + "a." * 50_000 + " "), "")
        self.assertEqual(addresses.normalize_email("x" * 100_000 + "@example.com"), "")

    def test_address_check_keeps_its_rules(self):
        self.assertEqual(
            addresses.normalize_email("<Jane.Doe@Example.COM>"), "jane.doe@example.com"
        )
        self.assertEqual(
            addresses.normalize_email("jane@sub.example.co.uk"), "jane@sub.example.co.uk"
        )
        for bad in (
            "jane@example",
            "jane@.com",
            "jane@example.",
            "@example.com",
            "a@b@c.com",
            "jane doe@example.com",
            "jane@exa(mple.com",
            'ja"ne@example.com',
            "jane@",
        ):
            self.assertEqual(addresses.normalize_email(bad), "", bad)

    def test_nested_comments_and_groups_never_crash(self):
        # The standard library recurses once per "(" or ":": RecursionError, not an address.
        for header in ("(" * 20_000, "a:" * 20_000, "(" * 5_000 + "bob@example.com"):
            self.assertIsInstance(addresses.parse_header(header), list)
        found = addresses.parse_header("x:" * 20_000 + " <bob@example.com>, carol@example.com")
        self.assertEqual(found[-1].email, "carol@example.com")

    def test_address_count_is_capped(self):
        header = ", ".join(f"user{i}@example.com" for i in range(5_000))
        found = addresses.collect({"to": header, "cc": "late@example.com"})
        self.assertEqual(len(found), addresses.MAX_ADDRESSES)
        self.assertEqual(found[0].email, "user0@example.com")

    def test_huge_address_header_is_cut_before_parsing(self):
        header = "a@example.com, " + "b" * (2 * addresses.MAX_HEADER_LENGTH) + ", z@example.com"
        self.assertEqual([a.email for a in addresses.parse_header(header)], ["a@example.com"])


class TestHostileHeaders(unittest.TestCase):
    def test_huge_encoded_subject_is_cut_before_decoding(self):
        # 1 MB of encoded words: the former decoding took about 11 s, 67 s at 2.8 MB.
        subject = b"=?utf-8?q?caf=C3=A9?= " * 50_000
        summary = mime.summarize(_email(subject=subject))
        self.assertTrue(summary.subject.startswith("café"))
        self.assertLessEqual(len(summary.headers["subject"]), mime.MAX_HEADER_LENGTH)
        self.assertEqual(summary.message_id, "<hostile@customer.example>")
        self.assertTrue(any("Subject" in note for note in summary.notes), summary.notes)

    def test_cap_headers_cuts_long_headers_and_keeps_the_body(self):
        long_to = b", ".join(b"user%d@example.com" % i for i in range(20_000))
        raw = _email(to=long_to, extra=b"X-Folded: a\r\n" + b" b\r\n" * 50_000, body=b"Body!\r\n")
        capped, notes = mime.cap_headers(raw)
        head, _sep, body = capped.partition(b"\r\n\r\n")
        self.assertEqual(body, b"Body!\r\n")
        for line in head.split(b"\r\n"):
            self.assertLessEqual(len(line), mime.MAX_HEADER_LENGTH)
        self.assertIn(b"Message-ID: <hostile@customer.example>", head)
        self.assertEqual({n.split()[1] for n in notes}, {"To", "X-Folded"}, notes)

    def test_cap_headers_leaves_normal_mail_untouched(self):
        raw = _email()
        self.assertEqual(mime.cap_headers(raw), (raw, []))
        self.assertEqual(mime.summarize(raw).notes, [])

    def test_header_block_is_capped(self):
        extra = b"".join(b"X-Spam-%d: %s\r\n" % (i, b"x" * 1000) for i in range(3_000))
        raw = _email(extra=extra)
        capped, notes = mime.cap_headers(raw)
        self.assertLessEqual(capped.index(b"\r\n\r\n"), mime.MAX_HEADER_BLOCK)
        self.assertTrue(capped.endswith(b"\r\n\r\nBody\r\n"))
        self.assertTrue(any("header block" in note for note in notes), notes)
        summary = mime.summarize(raw)
        self.assertEqual(summary.subject, "Hello")

    def test_too_many_addresses_are_noted(self):
        to = b", ".join(b"u%d@example.com" % i for i in range(addresses.MAX_ADDRESSES + 10))
        notes = mime.summarize(_email(to=to)).notes
        self.assertTrue(any("addresses" in note for note in notes), notes)

    def test_size_is_known_before_parsing(self):
        raw = _email(body=b"x" * 1000)
        self.assertEqual(mime.summarize(raw).size, len(raw))
        self.assertEqual(mime.format_size(61 * 1024 * 1024), "61 MB")
        self.assertEqual(mime.format_size(1536), "2 KB")


class TestSafeHeaders(unittest.TestCase):
    """What Odoo's parser reads: the standard library's structured header parser recurses on
    nested comments and is quadratic on long crafted address lists (16 s on 64 KB of dots)."""

    def _parse_to(self, raw):
        message = email.message_from_bytes(raw, policy=email.policy.SMTP)
        return [str(a.addr_spec) for a in message["To"].addresses]

    def test_hostile_address_headers_are_rewritten(self):
        for to in (
            b"(" * 20_000 + b"bob@example.com",
            b"a@" + b"." * 60_000 + b"@, bob@example.com",
            b'"a" ' * 15_000 + b"<bob@example.com>",
        ):
            safe, notes = addresses.safe_headers(_email(to=to))
            self.assertEqual(self._parse_to(safe)[-1:], ["bob@example.com"])
            self.assertIn("header To rewritten as the list of its addresses", notes)

    def test_names_survive_the_rewrite(self):
        to = b", ".join(b'"Ren\xc3\xa9e %d" <renee%d@example.com>' % (i, i) for i in range(400))
        safe, _notes = addresses.safe_headers(_email(to=to))
        found = addresses.parse_header(email.message_from_bytes(safe)["To"])
        self.assertEqual(found[0].name, "Renée 0")
        self.assertEqual(len(found), 400)

    def test_normal_mail_is_untouched(self):
        raw = _email(to=b'"Doe, John" <john@example.com> (desk)')
        self.assertEqual(addresses.safe_headers(raw), (raw, []))


if __name__ == "__main__":
    unittest.main()

"""Crafted input against the pure-Python tools: no Odoo, milliseconds.

Each input below took minutes, or blocked a mailbox, on the code before issue 9;
the sizes are kept modest so that the suite stays fast (``bench/hostile.py``
shows the times at growing sizes).
"""

import email
import email.policy
import io
import os
import poplib
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import addresses, connection, mime  # noqa: E402

# The expression that backtracked (93 s on one crafted header), kept to check the new test.
OLD_EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


def encoded_subject(words):
    return "=?utf-8?q?" + "a" * 60 + "?= " * 1 + ("=?utf-8?q?" + "a" * 60 + "?= ") * words


class TestAddressesAreLinear(unittest.TestCase):
    def test_same_answers_as_the_old_expression(self):
        samples = [
            "john@example.com",
            "a@b.c",
            "a@.b.c",
            "a@b.",
            "a@.b",
            "a@bc",
            "@b.c",
            "a@b@c.d",
            "a b@c.d",
            "a<b@c.d",
            'a"b@c.d',
            "a@b..c",
            "a@b.c.",
            "x.y+z@sub.example.co.uk",
            "",
        ]
        for value in samples:
            self.assertEqual(
                addresses.is_bare_email(value), bool(OLD_EMAIL_RE.match(value)), repr(value)
            )

    def test_crafted_address(self):
        crafted = "a@" + "b." * 200_000 + "@"
        self.assertEqual(addresses.normalize_email(crafted), "")
        self.assertEqual(addresses.normalize_email("a@" + "b." * 200_000 + "c"), "")
        self.assertEqual(addresses.parse_header(crafted), [])

    def test_address_count_is_capped(self):
        header = ", ".join(f"user{i}@spam.example" for i in range(20_000))
        found = addresses.parse_header(header)
        self.assertLessEqual(len(found), addresses.MAX_ADDRESSES)
        collected = addresses.collect({"to": header, "cc": header.replace("spam", "ham")})
        self.assertEqual(len(collected), addresses.MAX_ADDRESSES)


class TestHeadersAreCutBeforeDecoding(unittest.TestCase):
    def test_huge_encoded_subject(self):
        raw = f"Subject: {encoded_subject(40_000)}\r\nMessage-ID: <s@x>\r\n\r\nbody".encode()
        self.assertGreater(len(raw), 2_500_000)
        summary = mime.summarize(raw)
        self.assertEqual(summary.message_id, "<s@x>")
        self.assertEqual(summary.size, len(raw))
        self.assertTrue(summary.subject.startswith("a" * 60))
        self.assertIn("subject header of", summary.limits[0])
        capped, limits = mime.cap_headers(raw)
        self.assertLess(len(capped), mime.MAX_HEADER_VALUE + 100)
        self.assertTrue(capped.endswith(b"\r\n\r\nbody"))
        self.assertEqual(limits, summary.limits)

    def test_address_headers_are_cut_between_addresses(self):
        recipients = ", ".join(f"user{i}@spam.example" for i in range(20_000))
        raw = f"From: a@b.example\r\nTo: {recipients}\r\n\r\nhi".encode()
        capped, limits = mime.cap_headers(raw)
        to = re.search(rb"\r\nTo: (.*)\r\n\r\n", capped, re.S).group(1)
        self.assertLessEqual(len(to), mime.MAX_ADDRESS_HEADER)
        self.assertTrue(to.endswith(b"@spam.example"), "no address is cut in half")
        self.assertIn("to header", limits[0])

    def test_too_many_headers_and_no_end_of_headers(self):
        raw = b"".join(b"X-Spam-%d: y\r\n" % i for i in range(5000)) + b"\r\nbody"
        capped, limits = mime.cap_headers(raw)
        self.assertEqual(capped.count(b"X-Spam-"), mime.MAX_HEADERS)
        self.assertIn("5000 header fields", limits[0])
        endless = b"Subject: x\r\n" + b"X-Long: " + b"y" * 3_000_000  # and no body
        summary = mime.summarize(endless)
        self.assertEqual(summary.subject, "x")
        self.assertTrue(any("x-long header" in note for note in summary.limits))

    def test_ordinary_mail_is_left_alone(self):
        raw = b"From: a@b.example\r\nSubject: Hello\r\n\r\nbody\r\n"
        self.assertEqual(mime.cap_headers(raw), (raw, []))
        self.assertEqual(mime.summarize(raw).limits, [])


class FakeFile:
    def __init__(self, data):
        self.buffer = io.BytesIO(data)

    def readline(self, size=-1):
        return self.buffer.readline(size)


class TestPop3LongLines(unittest.TestCase):
    def _client(self, data):
        client = connection._POP3.__new__(connection._POP3)
        client.file = FakeFile(data)
        client._debugging = 0
        return client

    def test_a_100_kb_line_is_read_whole(self):
        line = b"x" * 100_000
        client = self._client(b"+OK\r\n" + line + b"\r\nend\r\n.\r\n")
        resp, lines, _octets = client._getlongresp()
        self.assertEqual(resp, b"+OK")
        self.assertEqual(lines, [line, b"end"])
        self.assertGreater(len(line), poplib._MAXLINE, "poplib alone refuses this line")

    def test_lost_session_is_not_a_message_error(self):
        client = self._client(b"+OK\r\npartial")
        client.max_line = 1000
        with self.assertRaises(connection._SessionLost):
            client._getlongresp()
        self.assertIsInstance(connection._SessionLost("x"), poplib.error_proto)


class FakeImap:
    """Answers UID FETCH like an IMAP server holding ``messages``; refuses ``broken`` ones."""

    capabilities = ()

    def __init__(self, messages, broken=()):
        self.messages, self.broken, self.calls = messages, set(broken), []

    def uid(self, command, uid_set, spec):
        uids = [int(u) for u in uid_set.split(",")]
        self.calls.append((tuple(uids), spec))
        if "RFC822.SIZE" in spec:
            return "OK", [
                b"%d (UID %d RFC822.SIZE %d)" % (u, u, len(self.messages[u])) for u in uids
            ]
        if self.broken & set(uids) and "HEADER" not in spec:
            return "NO", [b"[UNAVAILABLE] cannot read message"]
        data = []
        for u in uids:
            body = self.messages[u]
            if "HEADER" in spec:
                body = body.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
            data += [
                (
                    b'%d (UID %d INTERNALDATE "01-Jan-2024 10:00:00 +0000" BODY[] {%d}'
                    % (u, u, len(body)),
                    body,
                ),
                b")",
            ]
        return "OK", data


class TestImapBoundedReads(unittest.TestCase):
    def _mailbox(self, client):
        mailbox = connection.ImapMailbox.__new__(connection.ImapMailbox)
        mailbox.client, mailbox.received, mailbox.sizes = client, {}, {}
        return mailbox

    def test_batches_by_bytes_and_header_only_when_too_large(self):
        messages = {u: b"Subject: %d\r\n\r\n" % u + b"x" * 400 for u in range(1, 7)}
        messages[4] = b"Subject: big\r\n\r\n" + b"y" * 5000
        client = FakeImap(messages)
        mailbox = self._mailbox(client)
        budget = connection.BATCH_BYTES
        connection.BATCH_BYTES = 1000
        try:
            got = dict(mailbox.retrieve(list(messages), max_size=2000))
        finally:
            connection.BATCH_BYTES = budget
        self.assertEqual(got[4], b"Subject: big\r\n\r\n")
        self.assertEqual(got[1], messages[1])
        self.assertEqual(mailbox.sizes[4], len(messages[4]))
        bodies = [uids for uids, spec in client.calls if spec.endswith("BODY.PEEK[])")]
        self.assertEqual(bodies, [(1, 2), (3, 5), (6,)], "at most 1000 bytes per round trip")

    def test_a_message_the_server_refuses_fails_alone(self):
        messages = {u: b"Subject: %d\r\nMessage-ID: <%d@x>\r\n\r\nbody" % (u, u) for u in (1, 2, 3)}
        mailbox = self._mailbox(FakeImap(messages, broken={2}))
        got = dict(mailbox.retrieve([1, 2, 3]))
        self.assertEqual(got[1], messages[1])
        self.assertEqual(got[3], messages[3])
        self.assertIsInstance(got[2], connection.Unreadable)
        self.assertIn("cannot read message", got[2].error)
        self.assertIn(b"Message-ID: <2@x>", got[2].header)

    def test_no_process_wide_limit_is_changed(self):
        import imaplib

        self.assertEqual(imaplib._MAXLINE, 1_000_000)
        self.assertEqual(poplib._MAXLINE, 2048)


class TestOdooParserInput(unittest.TestCase):
    """What Odoo's parser reads: the standard library's structured address parser recurses once
    per nested "(" and took 13 s on a 60 KB crafted To, even after the headers were cut."""

    @staticmethod
    def _email(to):
        return (
            b"From: Alice <alice@customer.example>\r\nTo: "
            + to
            + b"\r\nSubject: Hello\r\nMessage-ID: <x@customer.example>\r\n\r\nBody\r\n"
        )

    @staticmethod
    def _parse_to(raw):
        message = email.message_from_bytes(raw, policy=email.policy.SMTP)
        return [str(address.addr_spec) for address in message["To"].addresses]

    def test_nested_comments_and_groups_never_crash(self):
        for header in ("(" * 20_000, "a:" * 20_000, "(" * 5_000 + "bob@example.com"):
            self.assertIsInstance(addresses.parse_header(header), list)
        found = addresses.parse_header("x:" * 20_000 + " <bob@example.com>, carol@example.com")
        self.assertEqual(found[-1].email, "carol@example.com")

    def test_hostile_address_headers_are_rewritten(self):
        for to in (
            b"(" * 20_000 + b"bob@example.com",
            b"a@" + b"." * 60_000 + b"@, bob@example.com",
            b'"a" ' * 15_000 + b"<bob@example.com>",
        ):
            safe, notes = addresses.safe_headers(self._email(to))
            self.assertEqual(self._parse_to(safe)[-1:], ["bob@example.com"])
            self.assertEqual(notes, ["to header rewritten as the list of its addresses"])
            self.assertTrue(safe.endswith(b"\r\n\r\nBody\r\n"))

    def test_names_survive_the_rewrite(self):
        to = b", ".join(b'"Ren\xc3\xa9e %d" <renee%d@example.com>' % (i, i) for i in range(400))
        safe, _notes = addresses.safe_headers(self._email(to))
        found = addresses.parse_header(email.message_from_bytes(safe)["To"])
        self.assertEqual((len(found), found[0].name), (400, "Ren\u00e9e 0"))

    def test_ordinary_mail_is_left_alone(self):
        raw = self._email(b'"Doe, John" <john@example.com> (desk), jane@example.com')
        self.assertIs(addresses.safe_headers(raw)[0], raw)


if __name__ == "__main__":
    unittest.main()


def blank_line_report(lines):
    """A forged delivery report whose text is ``lines`` blank lines (issue 18)."""
    return (
        b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\n" + b"\n" * lines + b"x\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x.example\r\n"
        b"\r\nFinal-Recipient: rfc822; nobody@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\n--B--\r\n"
    )


def many_parts(count):
    part = b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return (
        b"From: a@b.example\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + part * count + b"--B--\r\n"
    )


class TestParserBombs(unittest.TestCase):
    def test_blank_line_report_is_read_in_linear_time(self):
        """The old ``^\\s*`` MULTILINE regex took 8 s on 10 KB and 42 s on 40 KB of blank lines."""
        from tools import bounce  # noqa: PLC0415 - flufl.bounce loads slowly

        start = time.perf_counter()
        report = bounce.detect(blank_line_report(80_000))
        self.assertLess(time.perf_counter() - start, 5)
        self.assertEqual([r.email for r in report.recipients], ["nobody@acme.example"])

    def test_parts_are_counted_without_parsing(self):
        self.assertEqual(mime.count_parts(many_parts(3)), 4)  # the container and its 3 parts
        self.assertEqual(mime.count_parts(b"Subject: x\r\n\r\n-- \r\nsignature\r\n"), 1)
        # A line that only looks like a boundary is not one.
        self.assertEqual(mime.count_parts(many_parts(2) + b"--C\r\n--Bx\r\n"), 3)
        start = time.perf_counter()
        self.assertEqual(mime.count_parts(many_parts(30_000)), mime.MAX_PARTS + 1)
        self.assertEqual(mime.count_parts(many_parts(30_000), stop=10**9), 30_001)
        self.assertLess(time.perf_counter() - start, 5)
        # Nested multiparts each declare a boundary: that many boundaries is that many parts.
        nested = b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n' % i for i in range(2000)
        )
        self.assertEqual(mime.count_parts(nested), mime.MAX_PARTS + 1)


class TestBudget(unittest.TestCase):
    def test_budget_is_checked_at_the_seams(self):
        from tools.budget import Budget, OverBudget  # noqa: PLC0415

        now = [100.0]
        budget = Budget(60, clock=lambda: now[0])
        budget.check("read")
        now[0] += 61
        with self.assertRaisesRegex(OverBudget, r"61\.0 s > 60 s \(at _plan_rules\)"):
            budget.check("_plan_rules")
        unlimited = Budget(0, clock=lambda: now[0])
        now[0] += 10_000
        unlimited.check("apply")

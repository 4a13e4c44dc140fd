"""Unit tests of tools/tnef.py, tools/calendar_invite.py and tools/quoting.py: no Odoo, milliseconds.

The samples (``tests/samples.py``) imitate Outlook, Gmail, Google Calendar and Apple Mail.
"""

import email
import email.policy
import html
import importlib.util
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import calendar_invite, quoting, tnef  # noqa: E402

# tests/ itself is not put on the path: its Odoo test modules share these modules' names.
_spec = importlib.util.spec_from_file_location(
    "mail_converter_samples", os.path.join(os.path.dirname(__file__), "..", "samples.py")
)
samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(samples)


def parts(raw):
    return list(email.message_from_bytes(raw, policy=email.policy.SMTP).walk())


def calendar_of(raw):
    for part in parts(raw):
        if part.get_content_type() in calendar_invite.CALENDAR_TYPES:
            return calendar_invite.parse(part.get_payload(decode=True))
    return None


class TestTnef(unittest.TestCase):
    def test_outlook_blob_gives_its_files_and_body(self):
        blob = samples.tnef_blob(
            "Offer inside", [("offer.pdf", samples.PDF), ("Überblick.txt", b"Zahlen 2024")]
        )
        unpacked = tnef.unpack(blob)
        self.assertEqual(
            unpacked.attachments, (("offer.pdf", samples.PDF), ("Überblick.txt", b"Zahlen 2024"))
        )
        self.assertEqual(unpacked.body, "Offer inside")

    def test_not_tnef_or_broken_gives_nothing(self):
        self.assertIsNone(tnef.unpack(samples.PDF))
        self.assertIsNone(tnef.unpack(tnef.SIGNATURE + b"\x00\x00garbage"))
        self.assertFalse(tnef.is_tnef("text"))


class TestCalendar(unittest.TestCase):
    def test_google_invitation(self):
        invitation = calendar_of(samples.google_invitation())
        self.assertEqual(invitation.method, "REQUEST")
        self.assertEqual(invitation.summary, "Quarterly review")
        self.assertEqual(invitation.location, "Meeting room Ada, 2nd floor")
        self.assertEqual(invitation.organizer.label(), "Grace Google <grace@gmail.example>")
        self.assertEqual(
            calendar_invite.format_when(invitation, "Europe/Brussels"),
            "2024-12-10 14:00 - 15:00 (Europe/Brussels)",
        )

    def test_outlook_windows_time_zone(self):
        invitation = calendar_of(samples.outlook_calendar("REQUEST", "Sync"))
        # 10:00 in "W. Europe Standard Time" (its VTIMEZONE: +01:00 in December)
        self.assertEqual(
            calendar_invite.format_when(invitation, "America/New_York"),
            "2024-12-11 04:00 - 05:00 (America/New_York)",
        )

    def test_reply_names_the_answering_attendee(self):
        invitation = calendar_of(
            samples.outlook_calendar("REPLY", "Accepted: Sync", partstat="ACCEPTED")
        )
        self.assertEqual(calendar_invite.replier(invitation).status, "ACCEPTED")

    def test_garbage_is_no_invitation(self):
        self.assertIsNone(calendar_invite.parse(b"BEGIN:VCALENDAR\r\nnonsense"))
        self.assertIsNone(calendar_invite.parse(b""))


class TestQuoting(unittest.TestCase):
    def body(self, raw, subtype):
        part = email.message_from_bytes(raw, policy=email.policy.SMTP).get_body((subtype,))
        content = part.get_content()
        return f"<pre>{html.escape(content)}</pre>" if subtype == "plain" else content

    def test_each_client_in_html_and_text(self):
        for build, new in (
            (samples.gmail_reply, "It works again"),
            (samples.outlook_reply, "Still broken"),
            (samples.apple_reply, "Sounds good"),
        ):
            for subtype in ("html", "plain"):
                with self.subTest(client=build.__name__, subtype=subtype):
                    folded = quoting.fold_quotes(self.body(build(), subtype))
                    new_part, marker, quoted = folded.partition('data-o-mail-quote="1"')
                    self.assertTrue(marker, folded)
                    self.assertIn(new, new_part)
                    self.assertNotIn("restart the router", new_part)
                    self.assertIn(samples.QUOTED, quoted)

    def test_crafted_line_takes_linear_time(self):
        # quotequail's own "YYYY/MM/DD name <address>" pattern backtracks on this line.
        line = ("2024/1/1 " + " <@" * 20000)[:40000]
        for body in (
            f"<pre>hello\n{line}\n</pre>",
            f"<div>hello</div><div>{html.escape(line)}</div>",
        ):
            start = time.monotonic()
            quoting.fold_quotes(body)
            self.assertLess(time.monotonic() - start, 2)

    def test_no_quote_no_change(self):
        self.assertEqual(quoting.fold_quotes("<p>Hello</p>"), "<p>Hello</p>")
        self.assertEqual(quoting.fold_quotes("<pre>Hello</pre>"), "<pre>Hello</pre>")

    def test_one_match_first_finds_what_every_pattern_finds(self):
        from quotequail._enums import Position

        text = "\n".join(
            [
                "Thanks, see below.",
                "",
                "On Mon, 3 Jun 2024 at 10:00, Ann Example",
                "<ann@acme.example> wrote:",
                "> the router",
                "Am 3. Juni 2024 schrieb Bob:",
                "Le 3 juin 2024, Carole a écrit :",
                "---------- Forwarded message ---------",
                "-----Original Message-----",
                "________________________________",
                "> Begin forwarded message:",
                "2024/06/03 Dan <dan@acme.example>",
                "Den 3 juni 2024 skrev Eva:",
                "just a line with wrote: inside",
                "",
            ]
        )
        lines = text.split("\n")
        for n in range(len(lines)):
            for wrap in (1, 2):
                for position in (Position.Begin, Position.End):
                    with self.subTest(line=lines[n], wrap=wrap, position=position):
                        self.assertEqual(
                            quoting._find_pattern_on_line_prefiltered(lines, n, wrap, position),
                            quoting._find_pattern_on_line(lines, n, wrap, position),
                        )
        found = [
            n for n in range(len(lines)) if quoting._find_pattern_on_line(lines, n, 2, Position.End)
        ]
        self.assertGreater(len(found), 8, "the lines above open quotes")


if __name__ == "__main__":
    unittest.main()

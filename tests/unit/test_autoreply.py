"""Unit tests of tools/autoreply.py: no Odoo, no database."""

import os
import sys
import unittest
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import autoreply  # noqa: E402


class TestRobotHeaders(unittest.TestCase):
    def test_person_written_mail_may_be_answered(self):
        self.assertIsNone(
            autoreply.robot_reason({"subject": "Printer on fire", "from": "a@b.example"})
        )
        self.assertIsNone(autoreply.robot_reason({}))
        self.assertIsNone(autoreply.robot_reason(None))

    def test_auto_submitted(self):
        self.assertIn("auto-replied", autoreply.robot_reason({"auto-submitted": "auto-replied"}))
        self.assertIn(
            "Auto-Generated", autoreply.robot_reason({"Auto-Submitted": "Auto-Generated"})
        )
        self.assertIsNotNone(autoreply.robot_reason({"auto-submitted": "auto-notified; owner"}))
        # RFC 3834: "no" means a person wrote it, comments allowed.
        self.assertIsNone(autoreply.robot_reason({"auto-submitted": "no"}))
        self.assertIsNone(autoreply.robot_reason({"auto-submitted": "No ; (by hand)"}))

    def test_precedence(self):
        for value in ("bulk", "list", "junk", "BULK", " list "):
            self.assertIn("Precedence", autoreply.robot_reason({"precedence": value}), value)
        self.assertIsNone(autoreply.robot_reason({"precedence": "first-class"}))

    def test_lists_and_loops(self):
        self.assertIn("List-Id", autoreply.robot_reason({"list-id": "<news.shop.example>"}))
        self.assertIn(
            "List-Unsubscribe",
            autoreply.robot_reason({"list-unsubscribe": "<mailto:unsub@shop.example>"}),
        )
        self.assertIn("X-Loop", autoreply.robot_reason({"x-loop": "support@company.example"}))
        self.assertIsNotNone(autoreply.robot_reason({"x-autoreply": "yes"}))

    def test_exchange_suppression(self):
        self.assertIn(
            "X-Auto-Response-Suppress",
            autoreply.robot_reason({"x-auto-response-suppress": "All"}),
        )
        self.assertIsNotNone(autoreply.robot_reason({"x-auto-response-suppress": "DR, OOF"}))
        self.assertIsNone(autoreply.robot_reason({"x-auto-response-suppress": "None"}))

    def test_null_return_path(self):
        self.assertIn("Return-Path", autoreply.robot_reason({"return-path": "< >"}))
        self.assertIsNone(autoreply.robot_reason({"return-path": "<alice@customer.example>"}))

    def test_reply_goes_to_the_return_path(self):
        """RFC 3834 section 4: the Return-Path when there is one, else the From."""
        verp = {"return-path": "<List-Bounces+alice=customer.example@lists.example>"}
        self.assertEqual(
            autoreply.reply_address(verp, "alice@customer.example"),
            "list-bounces+alice=customer.example@lists.example",
        )
        self.assertEqual(
            autoreply.reply_address({}, "alice@customer.example"), "alice@customer.example"
        )
        self.assertEqual(
            autoreply.reply_address({"return-path": "< >"}, "alice@customer.example"), ""
        )
        # An unreadable Return-Path is no address to mail: the From stays.
        self.assertEqual(
            autoreply.reply_address({"return-path": "<not an address>"}, "alice@customer.example"),
            "alice@customer.example",
        )


class TestRobotSenders(unittest.TestCase):
    def test_robot_local_parts(self):
        for email in (
            "mailer-daemon@mx.example",
            "MAILER-DAEMON@mx.example",
            "postmaster@customer.example",
            "noreply@shop.example",
            "no-reply@shop.example",
            "do-not-reply@bank.example",
        ):
            self.assertIsNotNone(autoreply.robot_sender_reason(email), email)

    def test_people(self):
        for email in ("alice@customer.example", "noreplyguy@x.example", "", None):
            self.assertIsNone(autoreply.robot_sender_reason(email), email)


class TestMailDate(unittest.TestCase):
    def test_parse_date_to_naive_utc(self):
        self.assertEqual(
            autoreply.parse_date("Tue, 03 Mar 2026 10:00:00 +0100"), datetime(2026, 3, 3, 9, 0)
        )
        self.assertIsNone(autoreply.parse_date("not a date"))
        self.assertIsNone(autoreply.parse_date(""))
        self.assertIsNone(autoreply.parse_date(None))

    def test_older_of_header_and_internal_date(self):
        header = "Tue, 03 Mar 2026 10:00:00 +0000"
        received = datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
        self.assertEqual(autoreply.mail_date(header, received), datetime(2026, 1, 1, 6, 0))
        self.assertEqual(
            autoreply.mail_date(header, datetime(2026, 5, 1)), datetime(2026, 3, 3, 10, 0)
        )
        # A missing or broken Date header leaves the server's date.
        self.assertEqual(autoreply.mail_date(None, datetime(2026, 5, 1)), datetime(2026, 5, 1))
        self.assertEqual(autoreply.mail_date("garbage", None), None)


if __name__ == "__main__":
    unittest.main()

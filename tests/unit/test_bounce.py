"""Unit tests of tools/bounce.py: no Odoo, no database, milliseconds.

The reports are in ``tests/data/bounces``, written by hand from the formats
flufl.bounce's detectors document (RFC 3464, qmail's QSBMF, Exim, Postfix,
Exchange, Yahoo, AOL, SimpleMatch).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import bounce  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "bounces")


def read(name):
    with open(os.path.join(DATA, name), "rb") as handle:
        return handle.read()


class TestDsn(unittest.TestCase):
    def test_5_1_1_is_hard_with_its_diagnostic_and_original(self):
        report = bounce.detect(read("dsn_5_1_1.eml"))
        self.assertTrue(report.standard)
        (recipient,) = report.recipients
        self.assertEqual(recipient.email, "gone@customer.example")
        self.assertTrue(recipient.hard)
        self.assertEqual((recipient.status, recipient.action), ("5.1.1", "failed"))
        self.assertIn("User unknown in virtual mailbox table", recipient.diagnostic)
        self.assertEqual(
            report.original_message_ids,
            ["<quote-511@company.example>", "<first-contact@company.example>"],
        )

    def test_5_2_2_mailbox_full_is_soft(self):
        # RFC 3463: X.2.2 is a persistent transient failure, whatever its class digit.
        (recipient,) = bounce.detect(read("dsn_5_2_2.eml")).recipients
        self.assertEqual((recipient.email, recipient.status), ("full@customer.example", "5.2.2"))
        self.assertFalse(recipient.hard)

    def test_4_2_2_delayed_is_soft(self):
        report = bounce.detect(read("dsn_4_2_2.eml"))
        (recipient,) = report.recipients
        self.assertEqual((recipient.status, recipient.action), ("4.2.2", "delayed"))
        self.assertFalse(recipient.hard)
        self.assertEqual(report.original_message_ids, ["<meeting-422@company.example>"])

    def test_status_wins_over_action(self):
        self.assertFalse(bounce.classify("4.4.7", "failed", "", True))
        self.assertTrue(bounce.classify("5.1.1", "delayed", "", False))
        self.assertTrue(bounce.classify("", "failed", "", False))
        self.assertFalse(bounce.classify("", "delayed", "", True))

    def test_success_notice_is_no_failure(self):
        raw = (
            b"From: MAILER-DAEMON@mx.example\r\nSubject: Successful Mail Delivery Report\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="S"\r\n\r\n'
            b"--S\r\nContent-Type: text/plain\r\n\r\nDelivered.\r\n"
            b"--S\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
            b"Final-Recipient: rfc822; ok@customer.example\r\nAction: delivered\r\nStatus: 2.0.0\r\n"
            b"--S--\r\n"
        )
        self.assertIsNone(bounce.detect(raw))


class TestNonStandard(unittest.TestCase):
    CASES = {
        # file: (address, hard, status)
        "qmail.eml": ("qgone@customer.example", True, "5.1.1"),
        "exim.eml": ("egone@customer.example", True, "5.1.1"),
        "exim_quota.eml": ("efull@customer.example", False, "5.2.2"),
        "postfix_plain.eml": ("pgone@customer.example", True, ""),
        "exchange.eml": ("xgone@customer.example", True, ""),
        "yahoo.eml": ("ygone@yahoo.com", True, ""),
        "aol.eml": ("agone@aol.com", True, ""),
        "gmail.eml": ("sgone@customer.example", True, "5.1.1"),
    }
    ORIGINALS = {
        "qmail.eml": "<welcome-qmail@company.example>",
        "exim.eml": "<order-exim@company.example>",
        "postfix_plain.eml": "<renewal-postfix@company.example>",
        "exchange.eml": "<kickoff-exchange@company.example>",
        "yahoo.eml": "<ticket-yahoo@company.example>",
        "gmail.eml": "<demo-gmail@company.example>",
    }

    def test_each_format_names_the_address_and_class(self):
        for name, (address, hard, status) in self.CASES.items():
            with self.subTest(name):
                report = bounce.detect(read(name))
                self.assertIsNotNone(report)
                self.assertFalse(report.standard)
                self.assertEqual([r.email for r in report.recipients], [address])
                self.assertEqual(report.recipients[0].hard, hard)
                self.assertEqual(report.recipients[0].status, status)
                self.assertTrue(report.recipients[0].diagnostic)

    def test_original_message_found_in_the_returned_copy(self):
        for name, message_id in self.ORIGINALS.items():
            with self.subTest(name):
                self.assertEqual(bounce.detect(read(name)).original_message_ids[0], message_id)

    def test_diagnostic_is_the_paragraph_about_the_address(self):
        (recipient,) = bounce.detect(read("exim.eml")).recipients
        self.assertIn("550 5.1.1", recipient.diagnostic)
        self.assertIn("User unknown", recipient.diagnostic)


class TestNotABounce(unittest.TestCase):
    def test_a_customer_quoting_a_bounce_keeps_its_address(self):
        raw = (
            b"From: Alice <alice@customer.example>\r\nTo: support@company.example\r\n"
            b"Subject: My mail to you bounced?\r\n\r\n"
            b"Delivery to the following recipient failed permanently:\r\n\r\n"
            b"     alice@customer.example\r\n\r\n----- Original message -----\r\n"
        )
        self.assertIsNone(bounce.detect(raw))

    def test_garbage_is_not_a_bounce(self):
        self.assertIsNone(bounce.detect(b"\x00\xff garbage"))
        self.assertIsNone(
            bounce.detect(
                b"From: MAILER-DAEMON@x\r\nContent-Type: multipart/report; boundary=\r\n\r\n--"
            )
        )


class TestAddressFields(unittest.TestCase):
    def test_remove_one_address_from_a_list(self):
        self.assertEqual(
            bounce.remove_address("gone@customer.example", "gone@customer.example"), ""
        )
        self.assertEqual(
            bounce.remove_address(
                '"Gone, Guy" <GONE@customer.example>, "Doe, Jane" <jane@customer.example>',
                "gone@customer.example",
            ),
            '"Doe, Jane" <jane@customer.example>',
        )
        self.assertEqual(
            bounce.remove_address("a@x.example; gone@customer.example", "gone@customer.example"),
            "a@x.example",
        )

    def test_holds_address(self):
        self.assertTrue(
            bounce.holds_address("A <a@x.example>, Gone@Customer.example", "gone@customer.example")
        )
        self.assertFalse(bounce.holds_address("notgone@customer.example", "gone@customer.example"))


if __name__ == "__main__":
    unittest.main()

"""Unit tests of tools/bcc.py: no Odoo, no database, milliseconds."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import bcc  # noqa: E402
from tools.matcher import Link  # noqa: E402

RITA = bcc.Representative(1, 11, "Rita Rep", frozenset({"rita@company.example"}))
ROB = bcc.Representative(2, 12, "Rob Seller", frozenset({"rob@company.example"}))


class TestAcceptedSenders(unittest.TestCase):
    def test_parse(self):
        entries, errors = bcc.parse_accepted_senders(
            "Rita.Private@gmail.com = rita@company.example\nshared@company.example, nonsense\n"
            "x@y.example = not an address"
        )
        self.assertEqual(
            entries,
            (
                bcc.AcceptedSender("rita.private@gmail.com", "rita@company.example"),
                bcc.AcceptedSender("shared@company.example", ""),
            ),
        )
        self.assertEqual(errors, ["nonsense", "x@y.example = not an address"])


class TestRepresentative(unittest.TestCase):
    accepted = (
        bcc.AcceptedSender("rita.private@gmail.com", "rita@company.example"),
        bcc.AcceptedSender("sales@company.example", ""),
    )

    def find(self, sender, name=""):
        return bcc.find_representatives(sender, name, (RITA, ROB), self.accepted)

    def test_own_address(self):
        self.assertEqual(self.find("rob@company.example"), [ROB])

    def test_alias_of_one_representative(self):
        self.assertEqual(self.find("rita.private@gmail.com"), [RITA])

    def test_shared_alias_told_apart_by_name(self):
        self.assertEqual(self.find("sales@company.example"), [RITA, ROB])
        self.assertEqual(self.find("sales@company.example", "Seller, Rob"), [ROB])

    def test_stranger(self):
        self.assertEqual(self.find("someone@else.example"), [])


class TestRecord(unittest.TestCase):
    def test_one_contact(self):
        links = [Link("res.partner", 5, "karl@customer.example", "to", "")]
        choice, contacts, leads = bcc.pick_record(links)
        self.assertEqual((choice.res_id, len(contacts), len(leads)), (5, 1, 0))

    def test_contact_wins_over_its_lead(self):
        links = [
            Link("crm.lead", 9, "karl@customer.example", "to", ""),
            Link("res.partner", 5, "karl@customer.example", "to", ""),
            Link("res.partner", 50, "karl@customer.example", "to", "", via_company=True),
        ]
        self.assertEqual(bcc.pick_record(links)[0].res_id, 5)

    def test_lead_alone(self):
        links = [Link("crm.lead", 9, "new@prospect.example", "to", "")]
        self.assertEqual(bcc.pick_record(links)[0].model, "crm.lead")

    def test_ambiguous_and_staff(self):
        links = [
            Link("res.partner", 5, "info@customer.example", "to", ""),
            Link("res.partner", 6, "info@customer.example", "to", ""),
            Link("res.partner", 7, "colleague@company.example", "to", ""),
        ]
        choice, contacts, _leads = bcc.pick_record(links, {"colleague@company.example"})
        self.assertIsNone(choice)
        self.assertEqual([c.res_id for c in contacts], [5, 6])


class TestAutoSubmitted(unittest.TestCase):
    def test_headers(self):
        self.assertTrue(bcc.is_auto_submitted({"auto-submitted": "auto-replied"}))
        self.assertFalse(bcc.is_auto_submitted({"auto-submitted": "no"}))
        self.assertTrue(bcc.is_auto_submitted({"precedence": "bulk"}))
        self.assertTrue(bcc.is_auto_submitted({"list-id": "<x.example>"}))
        self.assertTrue(bcc.is_auto_submitted({"x-auto-response-suppress": "All"}))
        self.assertFalse(bcc.is_auto_submitted({"x-auto-response-suppress": "None"}))
        self.assertFalse(bcc.is_auto_submitted({"subject": "hi"}))


if __name__ == "__main__":
    unittest.main()

"""Unit tests of tools/matcher.py: no Odoo, no database."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools.addresses import Address  # noqa: E402
from tools.matcher import Candidate, match, same_person  # noqa: E402


class TestMatcher(unittest.TestCase):
    def test_links_every_record_once_with_reasons(self):
        addresses = [
            Address("from", "Alice", "alice@acme.example"),
            Address("to", "", "bob@acme.example"),
            Address("cc", "", "alice@acme.example"),
        ]
        candidates = [
            Candidate("res.partner", 1, "alice@acme.example", "Alice"),
            Candidate("crm.lead", 7, "alice@acme.example", "Alice"),
            Candidate("res.users", 3, "bob@acme.example", "Bob"),
            Candidate("res.partner", 4, "bob@acme.example", "Bob"),
        ]
        result = match(addresses, candidates, companies={1: (10, "Acme", False)})
        self.assertEqual(
            [(link.model, link.res_id) for link in result.links],
            [
                ("res.partner", 1),
                ("res.partner", 10),
                ("crm.lead", 7),
                ("res.partner", 4),
                ("res.users", 3),
            ],
        )
        self.assertEqual(result.links[0].reason, "From: alice@acme.example")
        self.assertEqual(result.links[1].reason, "Company of Alice")
        self.assertEqual(result.records("res.users"), [3])
        self.assertFalse(result.ambiguous)
        self.assertFalse(result.excluded)

    def test_shared_address_told_apart_by_name(self):
        candidates = [
            Candidate("res.partner", 1, "info@family.example", "John Smith"),
            Candidate("res.partner", 2, "info@family.example", "Jane Smith"),
        ]
        result = match([Address("from", "Smith, Jane", "info@family.example")], candidates)
        self.assertEqual(result.records("res.partner"), [2])
        self.assertIn("name", result.links[0].reason)
        result = match([Address("from", "Jane", "info@family.example")], candidates)
        self.assertEqual(result.records("res.partner"), [2])
        result = match([Address("from", "The Smiths", "info@family.example")], candidates)
        self.assertEqual(result.records("res.partner"), [1, 2])
        self.assertEqual(result.ambiguous, ["info@family.example"])
        self.assertIn("ambiguous", result.links[0].reason)

    def test_exclusion_reported(self):
        result = match(
            [Address("to", "", "ceo@company.example")],
            [Candidate("res.partner", 5, "ceo@company.example", "CEO", exclude=True)],
        )
        self.assertEqual([link.res_id for link in result.excluded], [5])

    def test_same_person(self):
        self.assertTrue(same_person("Smith, John", "john smith"))
        self.assertFalse(same_person("John Smith", "John Smithers"))
        self.assertFalse(same_person("", "John"))

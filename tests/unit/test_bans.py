"""Unit tests of tools/bans.py: no Odoo, no database."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import bans  # noqa: E402


class TestBans(unittest.TestCase):
    def test_normalize_pattern(self):
        self.assertEqual(bans.normalize_pattern(" Spammer@Junk.Example "), "spammer@junk.example")
        self.assertEqual(bans.normalize_pattern("@Junk.Example"), "@junk.example")
        for bad in ("", None, "@", "junk", "@junk", "a@b@c.example", "@ junk.example"):
            self.assertEqual(bans.normalize_pattern(bad), "", bad)

    def test_domain_pattern_never_freemail(self):
        self.assertEqual(bans.domain_pattern("Bob@Spam.Example"), "@spam.example")
        self.assertEqual(bans.domain_pattern("someone@gmail.com"), "")
        self.assertEqual(bans.domain_pattern("not an address"), "")

    def test_find_ban(self):
        rules = (
            bans.Ban(1, "@spam.example", "spam domain"),
            bans.Ban(2, "bob@shop.example", "bob"),
        )
        self.assertEqual(bans.find_ban(rules, "anyone@SPAM.example").id, 1)
        self.assertEqual(bans.find_ban(rules, "bob@shop.example").id, 2)
        self.assertIsNone(bans.find_ban(rules, "alice@shop.example"))
        # A domain ban does not cover its subdomains or look-alikes.
        self.assertIsNone(bans.find_ban(rules, "x@mail.spam.example"))
        self.assertIsNone(bans.find_ban(rules, "x@notspam.example"))
        self.assertIsNone(bans.find_ban(rules, ""))


if __name__ == "__main__":
    unittest.main()

"""Unit tests of tools/addresses.py: no Odoo, no database."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import addresses  # noqa: E402


class TestAddresses(unittest.TestCase):
    def test_normalize(self):
        self.assertEqual(
            addresses.normalize_email(" <John.Doe@Example.COM> "), "john.doe@example.com"
        )
        self.assertEqual(addresses.normalize_email("not an address"), "")
        self.assertEqual(addresses.normalize_email("a@b"), "")
        self.assertEqual(addresses.normalize_email(None), "")

    def test_parse_header_decodes_and_deduplicates(self):
        header = (
            '"Doe, John" <JOHN@example.com>, =?utf-8?q?Ren=C3=A9e_Dupr=C3=A9?= <renee@example.fr>, '
            "john@example.com, broken@, Support Team (ticket desk) <support@company.example>"
        )
        found = addresses.parse_header(header, "to")
        self.assertEqual(
            [a.email for a in found],
            ["john@example.com", "renee@example.fr", "support@company.example"],
        )
        self.assertEqual(found[0].name, "Doe, John")
        self.assertEqual(found[1].name, "Ren\u00e9e Dupr\u00e9")
        self.assertEqual(found[2].name, "Support Team")
        self.assertEqual({a.role for a in found}, {"to"})

    def test_encoded_word_is_never_an_address(self):
        """C11: the attack ``=?utf-8?q?rep=40ourcompany=2Ecom?= <attacker@evil.example>``."""
        spoof = "=?utf-8?q?rep=40ourcompany=2Ecom?= <attacker@evil.example>"
        found = addresses.parse_header(spoof, "from")
        self.assertEqual([a.email for a in found], ["attacker@evil.example"])
        self.assertEqual(found[0].name, "", "a display name that reads as an address is dropped")
        # An encoded comma or angle bracket splits nothing either.
        found = addresses.parse_header(
            "=?utf-8?q?a=40b.example=2C_c=3Cboss=40ourcompany.com=3E?= <x@evil.example>"
        )
        self.assertEqual([a.email for a in found], ["x@evil.example"])
        # An address only in an encoded word is no address at all.
        self.assertEqual(addresses.parse_header("=?utf-8?q?rep=40ourcompany=2Ecom?="), [])
        found = addresses.collect({"from": [spoof], "to": ["support@company.example"]})
        self.assertEqual(
            [(a.role, a.email) for a in found],
            [("from", "attacker@evil.example"), ("to", "support@company.example")],
        )

    def test_collect_keeps_first_role(self):
        found = addresses.collect(
            {
                "from": "Alice <alice@x.example>",
                "to": ["bob@y.example, alice@x.example", "carol@z.example"],
                "cc": "dave@w.example",
                "delivered-to": "support@company.example",
                "bcc": "",
            }
        )
        self.assertEqual(
            [(a.role, a.email) for a in found],
            [
                ("from", "alice@x.example"),
                ("to", "bob@y.example"),
                ("to", "carol@z.example"),
                ("cc", "dave@w.example"),
                ("delivered-to", "support@company.example"),
            ],
        )
        self.assertEqual(found[0].domain, "x.example")

    def test_split_name(self):
        cases = {
            ("John Smith", ""): ("John", "Smith"),
            ("Smith, John", ""): ("John", "Smith"),
            ('"Smith, John"', ""): ("John", "Smith"),
            ("Jean-Pierre de la Fontaine", ""): ("Jean-Pierre de la", "Fontaine"),
            ("John Smith (Sales)", ""): ("John", "Smith"),
            ("Madonna", ""): ("Madonna", ""),
            ("", "john.smith@example.com"): ("John", "Smith"),
            ("", "jsmith42@example.com"): ("Jsmith", ""),
            ("john@example.com", "john@example.com"): ("John", ""),
            ("", ""): ("", ""),
        }
        for (name, email), expected in cases.items():
            self.assertEqual(addresses.split_name(name, email), expected, (name, email))
        self.assertEqual(addresses.full_name("Smith, John"), "John Smith")
        self.assertEqual(addresses.full_name("", "x@y.example"), "X")

    def test_website_domain(self):
        self.assertEqual(
            addresses.website_domain("https://www.Acme.example/contact"), "acme.example"
        )
        self.assertEqual(addresses.website_domain("acme.example"), "acme.example")
        self.assertEqual(
            addresses.website_domain("http://shop.acme.example:8080"), "shop.acme.example"
        )
        self.assertEqual(addresses.website_domain(False), "")

    def test_freemail(self):
        self.assertTrue(addresses.is_freemail("gmail.com"))
        self.assertTrue(addresses.is_freemail("GMX.DE"))
        self.assertFalse(addresses.is_freemail("acme.example"))
        self.assertTrue(addresses.is_freemail("mycorp-mail.example", extra={"mycorp-mail.example"}))

    def test_a_header_read_again_is_parsed_once_and_never_shared(self):
        addresses._parse_cached.cache_clear()
        value = "Ann <ann@acme.example>, =?utf-8?q?B=C3=B6b?= <bob@acme.example>"
        first = addresses.parse_header(value, "cc")
        first.append("changed by a caller")
        again = addresses.parse_header(value, "cc")
        self.assertEqual([a.email for a in again], ["ann@acme.example", "bob@acme.example"])
        self.assertEqual(again[1].name, "Böb")
        self.assertEqual(addresses._parse_cached.cache_info().hits, 1)
        # another role or limit is another answer
        self.assertEqual(addresses.parse_header(value, "to", limit=1)[0].role, "to")
        # long values are parsed each time, not kept
        long_value = ", ".join(f"u{n}@acme.example" for n in range(200))
        self.assertEqual(len(addresses.parse_header(long_value)), 200)
        self.assertEqual(addresses._parse_cached.cache_info().currsize, 2)

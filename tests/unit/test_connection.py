"""The login and folder-listing choices of tools/connection.py: no Odoo, no server."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import connection  # noqa: E402

CAPABILITIES = ("IMAP4REV1", "AUTH=PLAIN", "AUTH=LOGIN", "AUTH=XOAUTH2")


class TestPasswordMechanism(unittest.TestCase):
    def test_nothing_avoided_uses_the_login_command(self):
        self.assertIsNone(connection.password_mechanism(CAPABILITIES, ()))

    def test_avoiding_plain_uses_sasl_login(self):
        self.assertEqual(connection.password_mechanism(CAPABILITIES, ("PLAIN",)), "LOGIN")

    def test_avoiding_login_uses_sasl_plain(self):
        self.assertEqual(connection.password_mechanism(CAPABILITIES, ("LOGIN",)), "PLAIN")

    def test_unadvertised_mechanisms_fall_back_to_the_command(self):
        self.assertIsNone(connection.password_mechanism(("IMAP4REV1", "AUTH=PLAIN"), ("PLAIN",)))

    def test_avoiding_every_password_mechanism_is_refused(self):
        with self.assertRaisesRegex(connection.MailboxError, "avoided"):
            connection.password_mechanism(CAPABILITIES, ("PLAIN", "LOGIN"))

    def test_mechanism_names(self):
        self.assertEqual(connection.parse_mechanisms("plain, ntlm NTLM"), ("PLAIN", "NTLM"))
        self.assertEqual(connection.parse_mechanisms(""), ())
        with self.assertRaises(ValueError):
            connection.parse_mechanisms("PLAIN STARTTLS")


class TestImapId(unittest.TestCase):
    def test_pairs(self):
        pairs = connection.parse_imap_id("name=Odoo, version = 19.0\nvendor=ACME Ltd")
        self.assertEqual(pairs, (("name", "Odoo"), ("version", "19.0"), ("vendor", "ACME Ltd")))
        self.assertEqual(
            connection.imap_id_argument(pairs),
            '("name" "Odoo" "version" "19.0" "vendor" "ACME Ltd")',
        )
        self.assertEqual(connection.imap_id_argument(()), "NIL")

    def test_injection_and_malformed_entries_are_refused(self):
        for text in ('name=a" "b', "name=a\\", "no equals sign", "bad key=x", "k=\x01"):
            with self.subTest(text=text), self.assertRaises(ValueError):
                connection.parse_imap_id(text)
        with self.assertRaises(ValueError):
            connection.parse_imap_id(",".join(f"k{i}=v" for i in range(31)))


class TestListLines(unittest.TestCase):
    def test_special_use(self):
        self.assertEqual(
            connection.parse_list_line(b'(\\HasNoChildren \\Sent) "/" "[Gmail]/Sent Mail"'),
            ("[Gmail]/Sent Mail", frozenset({"\\HasNoChildren", "\\Sent"})),
        )

    def test_xlist_names(self):
        name, flags = connection.parse_list_line(b'(\\HasNoChildren \\AllMail) "/" "All"', True)
        self.assertEqual((name, flags), ("All", frozenset({"\\HasNoChildren", "\\All"})))

    def test_garbage(self):
        self.assertIsNone(connection.parse_list_line(b"nonsense"))


if __name__ == "__main__":
    unittest.main()

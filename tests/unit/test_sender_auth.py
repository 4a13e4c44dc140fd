"""Unit tests of tools/sender_auth.py: no Odoo, no database, no network."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import sender_auth  # noqa: E402

GOOGLE = ("mx.google.com",)


class TestSenderAuth(unittest.TestCase):
    def test_forged_header_below_ours_is_ignored(self):
        """Our server says dmarc=fail; the sender wrote a dmarc=pass header under the same id."""
        values = [
            "mx.google.com; dmarc=fail (p=REJECT) header.from=customer.example; spf=fail "
            "smtp.mailfrom=evil.example",
            "mx.google.com; dmarc=pass header.from=customer.example; dkim=pass "
            "header.d=customer.example",
        ]
        auth = sender_auth.evaluate(values, GOOGLE, "carla@customer.example")
        self.assertEqual(auth.outcome, "fail")
        self.assertEqual(auth.results, {"dmarc": ["fail"], "spf": ["fail"]})
        self.assertEqual(auth.detail, "dmarc=fail, spf=fail (by mx.google.com)")
        # The same forged header below another server's header counts for nothing.
        values = [
            "mx.google.com; dmarc=fail header.from=customer.example",
            "relay.evil.example; none",
            "mx.google.com; dmarc=pass header.from=customer.example",
        ]
        auth = sender_auth.evaluate(values, GOOGLE, "carla@customer.example")
        self.assertEqual(auth.outcome, "fail")
        self.assertEqual(auth.results, {"dmarc": ["fail"]})

    def test_only_the_topmost_headers_count(self):
        values = [
            "other.example; none",
            "mx.google.com; dmarc=pass header.from=customer.example",
        ]
        auth = sender_auth.evaluate(values, GOOGLE, "carla@customer.example")
        self.assertEqual(auth.outcome, "none", "a trusted id below a foreign one may be forged")
        self.assertEqual(sender_auth.evaluate([], GOOGLE, "a@b.example").outcome, "none")
        self.assertEqual(
            sender_auth.evaluate(
                ["mx.google.com; dmarc=pass header.from=b.example"], (), "a@b.example"
            ).outcome,
            "none",
            "no trusted server: nothing counts",
        )

    def test_pass_and_alignment(self):
        gmail = (
            "mx.google.com; dkim=pass header.i=@customer.example header.s=s1 header.b=abc; "
            "spf=pass (google.com: domain of a@customer.example designates 1.2.3.4) "
            "smtp.mailfrom=a@customer.example; dmarc=pass (p=NONE sp=NONE dis=NONE) "
            "header.from=customer.example"
        )
        auth = sender_auth.evaluate([gmail], GOOGLE, "carla@customer.example")
        self.assertEqual(auth.outcome, "pass")
        self.assertEqual(auth.detail, "dmarc=pass, dkim=pass, spf=pass (by mx.google.com)")
        # Without DMARC, a DKIM pass of another domain proves nothing about the From.
        other = (
            "mx.google.com; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example"
        )
        self.assertEqual(
            sender_auth.evaluate([other], GOOGLE, "a@customer.example").outcome, "none"
        )
        aligned = "mx.google.com; dkim=pass header.d=customer.example"
        self.assertEqual(
            sender_auth.evaluate([aligned], GOOGLE, "a@mail.customer.example").outcome, "pass"
        )
        failed = "mx.google.com; spf=fail smtp.mailfrom=customer.example"
        self.assertEqual(
            sender_auth.evaluate([failed], GOOGLE, "a@customer.example").outcome, "fail"
        )

    def test_exchange_online_header_without_authserv_id(self):
        """Microsoft 365 stamps the results without an authserv-id, in the format of
        https://learn.microsoft.com/defender-office-365/message-headers-eop-mdo"""
        microsoft = sender_auth.DEFAULT_AUTH_SERVERS["outlook"]
        self.assertEqual(microsoft, ("(missing)",))
        passed = (
            "spf=pass (sender IP is 192.168.0.1) smtp.mailfrom=contoso.com; dkim=pass "
            "(signature was verified) header.d=contoso.com; dmarc=pass action=none "
            "header.from=contoso.com; compauth=pass reason=100"
        )
        auth = sender_auth.evaluate([passed], microsoft, "a@contoso.com")
        self.assertEqual(auth.outcome, "pass")
        self.assertIn("(by (missing))", auth.detail)
        failed = (
            "spf=fail (sender IP is 127.0.0.1) smtp.mailfrom=contoso.com; dkim=fail "
            "(body hash did not verify) header.d=contoso.com; dmarc=fail action=oreject "
            "header.from=contoso.com; compauth=fail reason=000"
        )
        auth = sender_auth.evaluate([failed], microsoft, "a@contoso.com")
        self.assertEqual(auth.outcome, "fail")
        # Not trusted unless the mailbox says so.
        self.assertEqual(sender_auth.evaluate([failed], GOOGLE, "a@contoso.com").outcome, "none")
        # Exchange's host names are no authserv-id: a header naming one is someone else's.
        forged = "am6pr01mb1234.eurprd01.prod.outlook.com; dmarc=pass header.from=contoso.com"
        self.assertEqual(sender_auth.evaluate([forged], microsoft, "a@contoso.com").outcome, "none")
        wildcard = ("*.mail.example",)
        self.assertTrue(sender_auth.is_trusted("mx1.mail.example", wildcard))
        self.assertFalse(sender_auth.is_trusted("mail.example.evil.example", wildcard))

    def test_hostile_headers_never_raise(self):
        for value in ("", ";;;", "mx.google.com; dmarc", "(" * 5000, "x" * 100000, None):
            auth = sender_auth.evaluate([value], GOOGLE, "a@b.example")
            self.assertEqual(auth.outcome, "none")
        many = ["mx.google.com; dmarc=fail header.from=b.example"] * 1000
        self.assertEqual(sender_auth.evaluate(many, GOOGLE, "a@b.example").outcome, "fail")
        two_servers = [
            "relay.company.example; spf=pass smtp.mailfrom=b.example",
            "mx.google.com; dmarc=fail header.from=b.example",
        ]
        auth = sender_auth.evaluate(two_servers, GOOGLE + ("relay.company.example",), "a@b.example")
        self.assertEqual(auth.outcome, "fail", "a failure outweighs another server's pass")

    def test_parse_servers(self):
        self.assertEqual(
            sender_auth.parse_servers(" MX.Google.com \n\n# comment\n*.prod.outlook.com"),
            ("mx.google.com", "*.prod.outlook.com"),
        )


class TestDkim(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import dkim  # noqa: PLC0415
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        cls.private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        import base64  # noqa: PLC0415

        cls.record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
        cls.raw = (
            b"From: Carla <carla@customer.example>\r\nTo: support@company.example\r\n"
            b"Subject: Hello\r\nMessage-ID: <1@customer.example>\r\n\r\nHello there\r\n"
        )
        cls.signed = (
            dkim.sign(cls.raw, b"s1", b"customer.example", cls.private, include_headers=[b"from"])
            + cls.raw
        )

    def dns(self, name, timeout=None):
        return self.record if name == b"s1._domainkey.customer.example." else None

    def test_verified_signature_aligned_with_from(self):
        self.assertEqual(
            sender_auth.verify_dkim(self.signed, "carla@customer.example", self.dns), "pass"
        )
        self.assertEqual(
            sender_auth.verify_dkim(self.signed, "boss@company.example", self.dns),
            "fail",
            "a valid signature of another domain does not vouch for this From",
        )
        tampered = self.signed.replace(b"Carla <carla", b"Boss <carla")
        self.assertEqual(
            sender_auth.verify_dkim(tampered, "carla@customer.example", self.dns), "fail"
        )
        self.assertIsNone(sender_auth.verify_dkim(self.raw, "carla@customer.example", self.dns))

    def test_dns_failure_never_raises(self):
        def broken(name, timeout=None):
            raise TimeoutError("DNS timed out")

        self.assertEqual(
            sender_auth.verify_dkim(self.signed, "carla@customer.example", broken), "fail"
        )
        self.assertIsNone(sender_auth.verify_dkim(b"\xff\x00garbage", "a@b.example", self.dns))
        auth = sender_auth.evaluate([], (), "carla@customer.example", dkim_result="pass")
        self.assertEqual(auth.outcome, "pass")


if __name__ == "__main__":
    unittest.main()

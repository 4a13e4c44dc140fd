"""Unit tests of tools/pec.py: no Odoo, no database, milliseconds.

The envelopes and receipts in ``tests/data/pec`` are written by hand after the
PEC technical rules (DM 2 November 2005).
"""

import email
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import mime, pec  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "pec")


def read(name):
    with open(os.path.join(DATA, name), "rb") as handle:
        return handle.read()


class TestEnvelope(unittest.TestCase):
    def test_certified_message_is_the_attached_postacert(self):
        raw = read("pec_message.eml")
        result = pec.unwrap(raw)
        self.assertEqual(result.kind, "message")
        self.assertEqual(result.envelope, raw)
        self.assertEqual(result.sender, "mario.rossi@pec.fornitore.example")
        self.assertEqual(result.reference, "<richiesta-1@pec.fornitore.example>")
        inner = email.message_from_bytes(result.inner)
        self.assertEqual(inner["Subject"], "Richiesta assistenza stampante")
        self.assertEqual(inner["From"], "Mario Rossi <mario.rossi@pec.fornitore.example>")
        self.assertEqual(
            [p.get_filename() for p in inner.walk() if p.get_filename()], ["verbale.pdf"]
        )
        summary = mime.summarize(result.inner)
        self.assertEqual(summary.key, "<richiesta-1@pec.fornitore.example>")
        self.assertIn(b"<postacert", result.daticert)
        self.assertEqual(result.data["tipo"], "posta-certificata")
        self.assertEqual(result.data["gestore-emittente"], "Provider PEC S.p.A.")

    def test_inner_without_message_id_takes_the_reference(self):
        raw = read("pec_message.eml").replace(
            b"\nMessage-ID: <richiesta-1@pec.fornitore.example>\n", b"\n"
        )
        self.assertNotIn(b"\nMessage-ID: <richiesta-1", raw)
        result = pec.unwrap(raw)
        self.assertEqual(
            mime.summarize(result.inner).message_id, "<richiesta-1@pec.fornitore.example>"
        )

    def test_anomaly_envelope_is_unwrapped_too(self):
        raw = read("pec_message.eml").replace(
            b"X-Trasporto: posta-certificata", b"X-Trasporto: errore"
        )
        result = pec.unwrap(raw)
        self.assertEqual(result.kind, "anomaly")
        self.assertTrue(result.inner)

    def test_broken_envelope_says_why(self):
        result = pec.unwrap(read("pec_broken.eml"))
        self.assertEqual(result.kind, "broken")
        self.assertIsNone(result.inner)
        self.assertEqual(result.error, "PEC envelope without postacert.eml")
        self.assertEqual(result.sender, "lucia.bianchi@pec.studio.example")

    def test_plain_mail_is_left_alone(self):
        result = pec.unwrap(b"From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n")
        self.assertEqual(result.kind, "plain")
        self.assertFalse(result.certified)


class TestReceipts(unittest.TestCase):
    def test_acceptance(self):
        result = pec.unwrap(read("pec_acceptance.eml"))
        self.assertEqual((result.kind, result.receipt_type), ("receipt", "accettazione"))
        self.assertEqual(result.reference, "<offerta-2024@pec.company.example>")
        self.assertIsNone(result.inner)
        self.assertEqual(result.sender, "posta-certificata@pec.company-provider.example")

    def test_full_delivery_receipt_is_not_unwrapped(self):
        # A "completa" receipt carries a copy of the message we sent: it is still a receipt.
        result = pec.unwrap(read("pec_delivery.eml"))
        self.assertEqual((result.kind, result.receipt_type), ("receipt", "avvenuta-consegna"))
        self.assertIsNone(result.inner)
        self.assertEqual(result.data["consegna"], ["acquisti@pec.cliente.example"])

    def test_reference_falls_back_on_daticert(self):
        raw = read("pec_acceptance.eml").replace(
            b"X-Riferimento-Message-ID: <offerta-2024@pec.company.example>\n", b""
        )
        self.assertEqual(pec.unwrap(raw).reference, "<offerta-2024@pec.company.example>")

    def test_every_receipt_type(self):
        base = read("pec_acceptance.eml")
        for receipt_type in pec.RECEIPT_TYPES:
            with self.subTest(receipt_type):
                raw = base.replace(
                    b"X-Ricevuta: accettazione", b"X-Ricevuta: " + receipt_type.encode()
                )
                self.assertEqual(pec.unwrap(raw).receipt_type, receipt_type)


class TestDaticert(unittest.TestCase):
    def test_entities_are_refused(self):
        hostile = (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]>'
            b'<postacert tipo="accettazione">&x;&x;</postacert>'
        )
        self.assertEqual(pec.parse_daticert(hostile), {})

    def test_broken_xml_is_empty(self):
        self.assertEqual(pec.parse_daticert(b"<postacert><unclosed>"), {})
        self.assertEqual(pec.parse_daticert(None), {})


if __name__ == "__main__":
    unittest.main()

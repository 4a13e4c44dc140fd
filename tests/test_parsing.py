"""Cheaper parsing with the same result: Odoo's ``message_parse`` gives the same dict on the
converter's parse of an email; stranger HTML is still cleaned in every copy it is stored in."""

import email
import email.policy
from unittest.mock import patch

from odoo.orm import fields_textual
from odoo.tests import tagged

from ..bench.corpus import generate
from ..tools import mime
from . import samples
from .common import MailConverterCase, make_email

MARKER = "Body of the sanitising check"
HTML = (
    '<html><head><style>p {color: red}</style></head><body><p class="MsoNormal" '
    f'style="color: blue; position: fixed">{MARKER}</p><script>alert(1)</script>'
    '<a href="javascript:alert(2)" onclick="x()">link</a><form><input name="a"></form>'
    "</body></html>"
)


@tagged("post_install", "-at_install", "mail_converter")
class TestParsingParity(MailConverterCase):
    def test_message_parse_gives_the_same_dict(self):
        MailThread = self.env["mail.thread"]
        corpus = samples.parsing_corpus() + generate(80, seed=3)
        for raw in corpus:
            expected = MailThread.message_parse(
                email.message_from_bytes(raw, policy=email.policy.SMTP), save_original=True
            )
            got = MailThread.message_parse(mime.parse_message(raw), save_original=True)
            self.assertFalse(expected["message_id"].endswith("@localhost>"), raw[:300])
            self.assertEqual(self.comparable(got), self.comparable(expected), raw[:300])

    def comparable(self, msg_dict):
        """``msg_dict`` with an attached email (``message/rfc822``) compared by its text."""
        attachments = [
            (a[0], a[1].as_string() if hasattr(a[1], "as_string") else a[1], *a[2:])
            for a in msg_dict.get("attachments") or []
        ]
        return dict(msg_dict, attachments=attachments)

    def sanitized_bodies(self, raw, subject):
        """Convert ``raw``; return its ticket, its email, and the HTML fields' sanitising calls
        on its body."""
        calls = []
        real = fields_textual.html_sanitize

        def counting(src, **options):
            if MARKER in str(src or ""):
                calls.append(options)
            return real(src, **options)

        self.append(raw)
        with patch.object(fields_textual, "html_sanitize", counting):
            self.fetch()
        ticket = self.tickets(subject)
        self.assertEqual(len(ticket), 1, self.logs().mapped("error"))
        message = ticket.message_ids.filtered(lambda m: m.message_type == "email")
        self.assertEqual(len(message), 1)
        return ticket, message, calls

    def test_body_sanitized_in_every_copy(self):
        self.env["mail.converter.rule"].search([]).action_archive()
        ticket, message, calls = self.sanitized_bodies(
            make_email(subject="Sanitised", html=HTML, message_id="<once@example.com>"),
            "Sanitised",
        )
        # Odoo's own sanitiser, for the description and for the message body.
        self.assertEqual(len(calls), 2, calls)
        # ... and stranger HTML is still cleaned in both copies.
        for html in (str(ticket.description), str(message.body)):
            self.assertIn(MARKER, html)
            for dangerous in ("<script", "javascript:", "onclick", "<form", "position"):
                self.assertNotIn(dangerous, html)

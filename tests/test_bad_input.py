from odoo.tests import tagged

from .common import MailConverterCase, MailConverterDovecotCase, make_email

NO_HEADERS = b"this message has no header block at all\r\njust text\r\n"

BROKEN_BOUNDARY = (
    b"From: Bob <bob@customer.example>\r\n"
    b"To: support@company.example\r\n"
    b"Subject: Broken boundary\r\n"
    b"Message-ID: <broken-boundary@customer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="AAA"\r\n'
    b"\r\n"
    b"--BBB\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"The boundary above is wrong and the closing one is missing.\r\n"
    b"--AAA\r\n"
    b"Content-Type: application/octet-stream; name=x.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"!!!not base64!!!\r\n"
)

UNDECLARED_8BIT = (
    "From: Jos\u00e9 <jose@customer.example>\r\n"
    "To: support@company.example\r\n"
    "Subject: Gr\u00fc\u00dfe aus K\u00f6ln\r\n"
    "Message-ID: <latin1@customer.example>\r\n"
    "\r\n"
    "Der Drucker druckt nur \u00e4\u00f6\u00fc.\r\n"
).encode("latin-1")

BOGUS_CHARSET = (
    b"From: =?x-unknown?q?Z=FCrich?= <zurich@customer.example>\r\n"
    b"To: support@company.example\r\n"
    b"Subject: =?utf-8?b?bm90IGJhc2U2NA?=\r\n"
    b"Message-ID: <bogus-charset@customer.example>\r\n"
    b"Content-Type: text/plain; charset=x-does-not-exist\r\n"
    b"\r\n"
    b"Body in an unknown charset \xe9\xe8\r\n"
)


@tagged("post_install", "-at_install", "mail_converter")
class TestBadInput(MailConverterDovecotCase):
    def test_malformed_messages_never_crash_a_run(self):
        hostile_html = (
            '<p>Hi</p><script>alert("x")</script><img src=x onerror="alert(1)">'
            '<a href="javascript:alert(2)">click</a>'
        )
        raws = {
            "no headers": NO_HEADERS,
            "broken boundary": BROKEN_BOUNDARY,
            "undeclared 8bit": UNDECLARED_8BIT,
            "bogus charset": BOGUS_CHARSET,
            "hostile html": make_email(
                subject="Hostile HTML", html=hostile_html, message_id="<hostile@customer.example>"
            ),
            "huge attachment": make_email(
                subject="Huge attachment",
                message_id="<huge@customer.example>",
                attachments=[
                    ("big.bin", b"\0\1\2\3" * (10 * 1024 * 1024 // 4), "application/octet-stream")
                ],
            ),
            "no message id": make_email(subject="No Message-ID", message_id=None),
            "corrupt image": make_email(
                subject="Corrupt image",
                message_id="<corrupt-image@customer.example>",
                # Pillow fails on this chunk with UnicodeDecodeError, which Odoo's
                # image post-processing does not expect (it only catches UserError).
                attachments=[
                    (
                        "photo.png",
                        bytes.fromhex("89504e470d0a1a0a1fd03d611569d6") + b"\0" * 64,
                        "image/png",
                    )
                ],
            ),
        }
        for raw in raws.values():
            self.append(raw)
        self.append(make_email(subject="Control", message_id="<control@customer.example>"))
        exception = self.fetch()
        self.assertIsNone(exception, "a bad message must never stop the run")
        logs = self.logs()
        self.assertEqual(len(logs), len(raws) + 1, "every message is logged")
        for log in logs:
            self.assertTrue(
                log.state == "done"
                or (log.state == "failed" and log.error and log.raw_attachment_id),
                f"{log.subject!r}: converted, or failed with a reason and its original kept",
            )
        # Odoo's parser copes with each of these: they all become tickets.
        self.assertEqual(set(logs.mapped("state")), {"done"})
        self.assertEqual(len(self.tickets("Control")), 1)

        hostile = self.tickets("Hostile HTML")
        self.assertNotIn("<script", hostile.description)
        self.assertNotIn("onerror", hostile.description)
        self.assertNotIn("javascript:", hostile.description)

        huge = self.tickets("Huge attachment")
        attachment = self.env["ir.attachment"].search(
            [("res_model", "=", "helpdesk.ticket"), ("res_id", "=", huge.id)]
        )
        self.assertEqual(attachment.file_size, 10 * 1024 * 1024)

        corrupt = self.tickets("Corrupt image")
        self.assertEqual(
            self.env["ir.attachment"].search_count(
                [
                    ("res_model", "=", "helpdesk.ticket"),
                    ("res_id", "=", corrupt.id),
                    ("name", "=", "photo.png"),
                ]
            ),
            1,
        )

        latin = self.env["helpdesk.ticket"].browse(
            self.logs(message_id="<latin1@customer.example>").res_id
        )
        self.assertIn("Drucker", latin.description)

        bogus = self.logs(message_id="<bogus-charset@customer.example>")
        self.assertIn("unknown charset 'x-does-not-exist'", bogus.reason.lower())
        self.assertIn(
            "Body in an unknown charset",
            self.env["helpdesk.ticket"].browse(bogus.res_id).description,
        )

        no_headers = logs.filtered(
            lambda log: (
                not log.message_id and not log.email_from and log.message_key.startswith("sha256:")
            )
        )
        self.assertEqual(len(no_headers), 1)
        self.assertEqual(no_headers.state, "done")


@tagged("post_install", "-at_install", "mail_converter")
class TestBounce(MailConverterCase):
    def test_delivery_report_logged_as_bounce(self):
        bounce = (
            b"From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
            b"To: support@company.example\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\n"
            b"Message-ID: <bounce-1@mx.customer.example>\r\n"
            b"MIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            b"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.customer.example\r\n\r\n"
            b"Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            b"--B--\r\n"
        )
        self.append(bounce)
        self.fetch()
        log = self.logs()
        self.assertEqual(log.state, "bounce")
        self.assertFalse(self.tickets("Undelivered Mail Returned to Sender"))

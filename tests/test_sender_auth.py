"""Trust only what can be proven: spoofed senders and sender authentication (C11, issue 18).

Each test is an attack, run against the real Dovecot."""

from odoo import fields
from odoo.tests import tagged

from .common import MailConverterDovecotCase, customer_ticket, make_email

SPOOFED_FROM = b"From: =?utf-8?q?rep=40ourcompany=2Ecom?= <attacker@evil.example>\r\n"


def with_auth_results(raw, *values):
    """``raw`` as it arrives: the receiving servers' headers on top, the first value topmost."""
    return b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values) + raw


@tagged("post_install", "-at_install", "mail_converter")
class TestSenderAuth(MailConverterDovecotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server.auth_servers = "mx.google.com"
        cls.acme, cls.carla, cls.rep, cls.ticket = customer_ticket(
            cls.env, "rep@ourcompany.com", "Rep"
        )

    def _raw_spoof(self, subject, message_id):
        raw = make_email(subject=subject, email_from="placeholder@x.example", message_id=message_id)
        return raw.replace(b"From: placeholder@x.example\n", SPOOFED_FROM).replace(
            b"From: placeholder@x.example\r\n", SPOOFED_FROM
        )

    def test_encoded_word_from_is_the_real_address_everywhere(self):
        """``=?utf-8?q?rep=40ourcompany=2Ecom?= <attacker@evil.example>`` is attacker@evil.example:
        on the log, as the author, for ID-tag trust, and for bans."""
        raw = self._raw_spoof(f"Change of bank details [{self.ticket.number}]", "<spoof1@x>")
        self.assertIn(b"=?utf-8?q?rep=40ourcompany", raw)
        self.append(raw)
        self.fetch()
        log = self.logs(message_id="<spoof1@x>")
        self.assertEqual(log.email_from, "attacker@evil.example")
        self.assertEqual(log.state, "done")
        self.assertNotEqual((log.model, log.res_id), ("helpdesk.ticket", self.ticket.id))
        self.assertNotIn("<spoof1@x>", self.ticket.message_ids.mapped("message_id"))
        self.assertIn("attacker@evil.example does not belong to it", log.reason)
        message = log.mail_message_id
        self.assertNotEqual(message.author_id, self.rep.partner_id)
        self.assertIn("attacker@evil.example", message.email_from)
        # A ban keyed on the real address catches it.
        self.env["mail.converter.ban"].create({"pattern": "attacker@evil.example"})
        self.append(self._raw_spoof("Again", "<spoof2@x>"))
        self.fetch()
        again = self.logs(message_id="<spoof2@x>")
        self.assertEqual(again.state, "rejected")
        self.assertEqual(again.email_from, "attacker@evil.example")

    def test_forged_dmarc_pass_below_our_fail_does_not_post_on_the_ticket(self):
        """Our server marked a tagged reply dmarc=fail; the sender wrote dmarc=pass below it.
        An authenticated reply from the same customer still lands on the ticket."""
        subject = f"Re: Broken printer [{self.ticket.number}]"
        forged = make_email(
            subject=subject, email_from="Carla <carla@acme.example>", message_id="<forged@x>"
        )
        self.append(
            with_auth_results(
                forged,
                "mx.google.com; dmarc=fail (p=REJECT) header.from=acme.example; "
                "spf=fail smtp.mailfrom=evil.example",
                "mx.google.com; dmarc=pass header.from=acme.example; dkim=pass "
                "header.d=acme.example",
            )
        )
        genuine = make_email(
            subject=subject, email_from="Carla <carla@acme.example>", message_id="<genuine@x>"
        )
        self.append(
            with_auth_results(
                genuine,
                "mx.google.com; dkim=pass header.i=@acme.example; spf=pass "
                "smtp.mailfrom=carla@acme.example; dmarc=pass header.from=acme.example",
            )
        )
        self.fetch()
        forged_log = self.logs(message_id="<forged@x>")
        self.assertEqual(forged_log.sender_auth, "fail")
        self.assertIn("dmarc=fail", forged_log.sender_auth_detail)
        self.assertEqual(forged_log.state, "done")
        self.assertNotEqual(forged_log.res_id, self.ticket.id)
        self.assertIn("is not authenticated", forged_log.reason)
        self.assertNotIn("<forged@x>", self.ticket.message_ids.mapped("message_id"))
        self.assertFalse(forged_log.mail_message_id.author_id, "no author, only its From")
        self.assertEqual(
            self.env["helpdesk.ticket"].browse(forged_log.res_id).partner_id.id
            or self.carla.id + 1,
            self.carla.id + 1,
            "the new ticket is not given to the customer it pretends to be",
        )
        genuine_log = self.logs(message_id="<genuine@x>")
        self.assertEqual(genuine_log.sender_auth, "pass")
        self.assertEqual(
            (genuine_log.model, genuine_log.res_id), ("helpdesk.ticket", self.ticket.id)
        )
        self.assertIn("<genuine@x>", self.ticket.message_ids.mapped("message_id"))
        self.assertEqual(genuine_log.mail_message_id.author_id, self.carla)

    def test_require_sender_auth(self):
        """Without a verdict the old behaviour holds, unless the mailbox requires one."""
        subject = f"Re: Broken printer [{self.ticket.number}]"
        self.append(
            make_email(subject=subject, email_from="carla@acme.example", message_id="<n1@x>")
        )
        self.fetch()
        log = self.logs(message_id="<n1@x>")
        self.assertEqual(log.sender_auth, "none")
        self.assertEqual(log.res_id, self.ticket.id)
        self.server.require_sender_auth = True
        self.append(
            make_email(subject=subject, email_from="carla@acme.example", message_id="<n2@x>")
        )
        self.fetch()
        log = self.logs(message_id="<n2@x>")
        self.assertEqual(log.sender_auth, "none")
        self.assertNotEqual(log.res_id, self.ticket.id)

    def test_converter_created_contact_is_no_colleague(self):
        """The first spoofed email creates a contact under the customer's company; the next one
        is not trusted as the customer's colleague for that."""
        self.server.contact_creation_addresses = "support@company.example"
        self.append(
            make_email(subject="Hello", email_from="mallory@acme.example", message_id="<c1@x>")
        )
        self.fetch()
        created = self.env["res.partner"].search([("email", "=", "mallory@acme.example")])
        self.assertTrue(created.mail_converter_created)
        self.assertEqual(created.parent_id, self.acme, "joined to the company by its domain")
        self.append(
            make_email(
                subject=f"Re: Broken printer [{self.ticket.number}]",
                email_from="mallory@acme.example",
                message_id="<c2@x>",
            )
        )
        self.fetch()
        log = self.logs(message_id="<c2@x>")
        self.assertNotEqual((log.model, log.res_id), ("helpdesk.ticket", self.ticket.id))

    def test_bcc_logging_from_a_failed_sender_is_refused_silently(self):
        """A forged representative's BCC email is rejected; nothing is mailed to the forged address."""
        self.server.write({"bcc_logging": True, "bcc_user_ids": [fields.Command.link(self.rep.id)]})
        raw = make_email(
            subject="Quote",
            email_from="rep@ourcompany.com",
            to="carla@acme.example",
            message_id="<bcc1@x>",
        )
        self.append(with_auth_results(raw, "mx.google.com; dmarc=fail header.from=ourcompany.com"))
        self.fetch()
        log = self.logs(message_id="<bcc1@x>")
        self.assertEqual(log.state, "rejected")
        self.assertEqual(log.sender_auth, "fail")
        self.assertIn("not authenticated", log.reason)
        self.assertFalse(log.bcc_explained_to)
        self.assertFalse(
            self.env["mail.mail"].search([("email_to", "ilike", "rep@ourcompany.com")])
        )
        self.assertNotIn("<bcc1@x>", self.carla.message_ids.mapped("message_id"))

    def test_auth_servers_prefilled_for_known_receiving_servers(self):
        gmail = self.make_server(user="sales", server="imap.gmail.com")
        self.assertEqual(gmail.auth_servers, "mx.google.com")
        m365 = self.make_server(user="archive", server="outlook.office365.com")
        self.assertEqual(m365.auth_servers, "(missing)")

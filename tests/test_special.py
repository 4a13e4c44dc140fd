"""Special mail through a real Dovecot: bounces (C7), BCC logging (C8), certified mail (C9).

The bounces and PEC messages are RFC 822 files written by hand in ``tests/data``
after the formats the detectors and the PEC technical rules document.
"""

import ast
import os

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged

from .common import MailConverterDovecotCase, make_email

DATA = os.path.join(os.path.dirname(__file__), "data")


def sample(folder, name):
    with open(os.path.join(DATA, folder, name), "rb") as handle:
        return handle.read()


class SpecialMailCase(MailConverterDovecotCase):
    def simulate(self, raw, server=None):
        wizard = self.env["mail.converter.simulator"].create(
            {"server_id": (server or self.server).id, "eml_text": raw.decode()}
        )
        wizard.action_simulate()
        return wizard

    def notes(self, record):
        return "\n".join(record.message_ids.mapped(lambda m: str(m.body)))


@tagged("post_install", "-at_install", "mail_converter")
class TestBounces(SpecialMailCase):
    """C7: a hard bounce cleans the address, with a note; a soft one changes nothing."""

    # Five non-standard formats: the sample file and the address it reports.
    ADDRESSES = {
        "qmail": "qgone@customer.example",
        "exim": "egone@customer.example",
        "postfix_plain": "pgone@customer.example",
        "exchange": "xgone@customer.example",
        "gmail": "sgone@customer.example",
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.gone = Partner.create({"name": "Gone Customer", "email": "gone@customer.example"})
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Gone's renewal",
                "email_from": '"Guy, Gone" <gone@customer.example>, buyer@customer.example',
            }
        )
        cls.full = Partner.create({"name": "Full Mailbox", "email": "full@customer.example"})
        cls.busy = Partner.create({"name": "Busy Mailbox", "email": "busy@customer.example"})
        cls.others = {
            name: Partner.create({"name": name, "email": address})
            for name, address in cls.ADDRESSES.items()
        }
        # The samples bounce mail this database really sent: a message from a ticket to each
        # address, under the Message-ID the sample returns.
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {"name": "Quotation", "description": "Quotation", "partner_id": cls.gone.id}
        )
        cls.quote = cls.send(cls.ticket, cls.gone, "<quote-511@company.example>", "Your quotation")
        for name, partner in cls.others.items():
            message_id = {
                "qmail": "<welcome-qmail@company.example>",
                "exim": "<order-exim@company.example>",
                "postfix_plain": "<renewal-postfix@company.example>",
                "exchange": "<kickoff-exchange@company.example>",
                "gmail": "<demo-gmail@company.example>",
            }[name]
            cls.send(cls.ticket, partner, message_id, f"Hello {name}")
        # A rule that would turn everything into a ticket: bounces must still open nothing.
        cls.env["mail.converter.rule"].create({"name": "Everything", "action": "ticket"})

    @classmethod
    def send(cls, record, partners, message_id, subject):
        """Email ``partners`` from ``record``'s chatter, as a user would: a real mail.mail."""
        return record.message_post(
            body="Here is your quotation",
            subject=subject,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=partners.ids,
            message_id=message_id,
        )

    @staticmethod
    def report(addresses, message_id, status="5.1.1"):
        """A standard delivery report returning the message ``message_id``, naming ``addresses``."""
        blocks = "".join(
            f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: {status}\r\n"
            f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n\r\n"
            for address in addresses
        )
        return (
            "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
            "To: support@company.example\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: <report-{abs(hash(message_id))}@mx.customer.example>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
            f"{blocks}"
            "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: support@company.example\r\nSubject: Hello\r\nMessage-ID: {message_id}\r\n"
            "--B--\r\n"
        ).encode()

    def test_forged_report_naming_20_customers_changes_nothing(self):
        customers = self.env["res.partner"].create(
            [{"name": f"Customer {n}", "email": f"customer{n}@client.example"} for n in range(20)]
        )
        addresses = customers.mapped("email")
        # Returning a Message-ID we never sent, then one we sent to someone else.
        self.append(self.report(addresses, "<made-up@company.example>"))
        self.append(self.report(addresses, "<quote-511@company.example>"))
        # An incoming email's Message-ID is written by its sender: it proves nothing either.
        incoming = self.ticket.message_post(
            body="Hi", message_type="email", message_id="<attacker-1@evil.example>"
        )
        self.ticket.message_post(body="Answer", message_type="comment", partner_ids=customers.ids)
        self.append(self.report(addresses, incoming.message_id))
        self.fetch()
        logs = self.logs()
        self.assertEqual(logs.mapped("state"), ["bounce"] * 3)
        for log in logs:
            self.assertIn("not a bounce of our mail", log.reason)
            self.assertFalse(log.link_ids)
        self.assertEqual(customers.mapped("email"), addresses)
        self.assertEqual(set(customers.mapped("message_bounce")), {0})
        self.assertFalse(self.env["mail.blacklist"].search([("email", "in", addresses)]))
        self.assertFalse(customers.message_ids.filtered(lambda m: "bounced" in str(m.body)))

    def test_genuine_bounce_of_a_ticket_message_removes_the_address(self):
        customer = self.env["res.partner"].create(
            {"name": "Real Customer", "email": "real@client.example"}
        )
        # Another company's contact and a colleague's user hold the address too: untouched.
        other_company = self.env["res.company"].create({"name": "Other Company"})
        elsewhere = self.env["res.partner"].create(
            {"name": "Elsewhere", "email": "real@client.example", "company_id": other_company.id}
        )
        staff = new_test_user(self.env, login="bounce_staff", email="staff@client.example")
        sent = self.ticket.message_post(
            body="Your answer",
            subject="Private matters",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=(customer | staff.partner_id).ids,
        )
        self.assertTrue(sent.notification_ids.filtered(lambda n: n.notification_type == "email"))
        self.append(self.report(["real@client.example", "staff@client.example"], sent.message_id))
        self.fetch()
        log = self.logs()
        self.assertEqual(log.state, "bounce")
        self.assertNotIn("not a bounce of our mail", log.reason)
        self.assertFalse(customer.email)
        self.assertEqual(elsewhere.email, "real@client.example")
        self.assertEqual(staff.partner_id.email, "staff@client.example")
        self.assertBlocklisted("real@client.example")
        # Odoo's bounce counter moves on this company's customer only.
        self.assertEqual(customer.message_bounce, 1)
        self.assertEqual(elsewhere.message_bounce, 0)
        self.assertEqual(staff.partner_id.message_bounce, 0)

    def assertBlocklisted(self, address, yes=True):
        found = self.env["mail.blacklist"].search([("email", "=", address)])
        self.assertEqual(bool(found), yes, address)

    def test_dsn_5_1_1_removes_the_address_with_a_note(self):
        mails_before = self.env["mail.mail"].search([])
        self.append(sample("bounces", "dsn_5_1_1.eml"))
        self.fetch()
        log = self.logs()
        self.assertRecordValues(
            log,
            [
                {
                    "state": "bounce",
                    "kind": "bounce",
                    "bounce_class": "hard",
                    "bounce_recipients": "gone@customer.example",
                    "bounce_message_id": self.quote.id,
                    "model": False,
                }
            ],
        )
        self.assertIn("5.1.1", log.bounce_diagnostic)
        self.assertIn("User unknown", log.bounce_diagnostic)
        self.assertIn("Hard bounce for gone@customer.example", log.reason)
        # The contact's address is blank, the lead keeps its other address.
        self.assertFalse(self.gone.email)
        self.assertEqual(self.lead.email_from, "buyer@customer.example")
        for record in (self.gone, self.lead):
            note = record.message_ids.filtered(
                lambda m: "bounced" in str(m.body) and m.message_type == "notification"
            )
            self.assertEqual(len(note), 1, record.display_name)
            self.assertIn("gone@customer.example", str(note.body))
            self.assertIn("User unknown", str(note.body))
            self.assertIn("Your quotation", str(note.body))
        self.assertBlocklisted("gone@customer.example")
        self.assertEqual(
            set(log.link_ids.mapped(lambda link: (link.model, link.res_id))),
            {("res.partner", self.gone.id), ("crm.lead", self.lead.id)},
        )
        # Odoo's own counter kept working, and nothing was created or sent.
        self.assertEqual(self.gone.message_bounce, 1)
        self.assertFalse(self.tickets("Undelivered Mail Returned to Sender"))
        self.assertFalse(self.env["mail.mail"].search([]) - mails_before)

    def test_dsn_5_2_2_and_4_2_2_are_soft_and_only_logged(self):
        self.append(sample("bounces", "dsn_5_2_2.eml"))
        self.append(sample("bounces", "dsn_4_2_2.eml"))
        self.fetch()
        logs = self.logs()
        self.assertEqual(logs.mapped("state"), ["bounce", "bounce"])
        self.assertEqual(set(logs.mapped("bounce_class")), {"soft"})
        self.assertEqual(
            set(logs.mapped("bounce_recipients")),
            {"full@customer.example", "busy@customer.example"},
        )
        self.assertEqual(self.full.email, "full@customer.example")
        self.assertEqual(self.busy.email, "busy@customer.example")
        self.assertBlocklisted("full@customer.example", False)
        self.assertBlocklisted("busy@customer.example", False)
        self.assertFalse(self.full.message_ids.filtered(lambda m: "bounced" in str(m.body)))
        self.assertFalse(logs.link_ids)

    def test_non_standard_bounces_of_five_mtas(self):
        for name in self.others:
            self.append(sample("bounces", f"{name}.eml"))
        self.fetch()
        logs = self.logs()
        self.assertEqual(len(logs), 5)
        self.assertEqual(set(logs.mapped("state")), {"bounce"})
        self.assertEqual(set(logs.mapped("bounce_class")), {"hard"})
        for name, partner in self.others.items():
            with self.subTest(name):
                note = partner.message_ids.filtered(lambda m: "bounced" in str(m.body))
                self.assertEqual(len(note), 1)
                self.assertFalse(partner.email)
                self.assertBlocklisted(self.ADDRESSES[name])

    def test_setting_off_only_logs(self):
        self.server.remove_bounced_address = False
        self.append(sample("bounces", "dsn_5_1_1.eml"))
        self.fetch()
        log = self.logs()
        self.assertRecordValues(log, [{"state": "bounce", "bounce_class": "hard"}])
        self.assertIn("only logged", log.reason)
        self.assertEqual(self.gone.email, "gone@customer.example")
        self.assertBlocklisted("gone@customer.example", False)

    def test_simulator_explains_the_bounce(self):
        wizard = self.simulate(sample("bounces", "dsn_5_1_1.eml"))
        self.assertEqual(wizard.plan_state, "bounce")
        self.assertTrue(
            wizard.outcome.startswith("Bounce, hard, for gone@customer.example: removed from"),
            wizard.outcome,
        )
        self.assertIn("Gone Customer (contact)", wizard.outcome)
        # The simulator writes nothing.
        self.assertEqual(self.gone.email, "gone@customer.example")


@tagged("post_install", "-at_install", "mail_converter")
class TestBccLogging(SpecialMailCase):
    """C8: a representative BCCs the logging address; refusals reach the sender and the report."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rita = new_test_user(
            cls.env, login="rita", name="Rita Rep", email="rita@company.example"
        )
        cls.tag = cls.env["res.partner.category"].create({"name": "Logged by BCC"})
        Partner = cls.env["res.partner"]
        cls.karl = Partner.create({"name": "Karl Customer", "email": "karl@customer.example"})
        cls.infos = Partner.create(
            [{"name": f"Acme {n}", "email": "info@acme.example"} for n in ("A", "B", "C")]
        )
        cls.lead = cls.env["crm.lead"].create(
            {"name": "Fleet deal", "email_from": "fleet@buyer.example"}
        )
        cls.server.write(
            {
                "bcc_logging": True,
                "bcc_user_ids": [fields.Command.set(cls.rita.ids)],
                "bcc_accepted_senders": "rita.private@gmail.example = rita@company.example",
                "bcc_category_id": cls.tag.id,
            }
        )

    def bcc_mail(self, email_from, to, subject, **kw):
        return make_email(
            subject=subject,
            email_from=email_from,
            to=to,
            headers={"Bcc": "sales-log@company.example", **kw.pop("headers", {})},
            **kw,
        )

    def explanations(self, to):
        return self.env["mail.mail"].search([("email_to", "=", to)])

    def test_representative_logs_on_the_contact(self):
        self.append(
            self.bcc_mail(
                "Rita Rep <rita@company.example>",
                "Karl <karl@customer.example>",
                "Our offer",
                cc="boss@customer.example",
            )
        )
        self.fetch()
        log = self.logs()
        self.assertRecordValues(
            log,
            [{"state": "done", "kind": "bcc", "model": "res.partner", "res_id": self.karl.id}],
        )
        message = log.mail_message_id
        self.assertRecordValues(
            message,
            [
                {
                    "model": "res.partner",
                    "res_id": self.karl.id,
                    "author_id": self.rita.partner_id.id,
                    "message_type": "email",
                    "subject": "Our offer",
                }
            ],
        )
        self.assertIn(self.tag, self.karl.category_id)
        self.assertFalse(self.tickets("Our offer"))
        self.assertFalse(self.env["crm.lead"].search([("name", "=", "Our offer")]))
        self.assertFalse(self.explanations("rita@company.example"))

    def test_privacy_of_the_contact_applies(self):
        self.karl.mail_converter_import_private = True
        self.append(self.bcc_mail("rita@company.example", "karl@customer.example", "Private deal"))
        self.fetch()
        log = self.logs()
        self.assertRecordValues(log, [{"state": "done", "res_id": self.karl.id}])
        self.assertTrue(log.mail_message_id.mail_converter_private)

    def test_accepted_sender_logs_on_the_lead(self):
        self.append(
            self.bcc_mail("rita.private@gmail.example", "fleet@buyer.example", "Fleet pricing")
        )
        self.fetch()
        log = self.logs()
        self.assertRecordValues(
            log, [{"state": "done", "kind": "bcc", "model": "crm.lead", "res_id": self.lead.id}]
        )
        self.assertEqual(log.mail_message_id.author_id, self.rita.partner_id)

    def test_stranger_is_told_once_an_hour(self):
        self.append(self.bcc_mail("stranger@else.example", "karl@customer.example", "Hello"))
        self.append(self.bcc_mail("stranger@else.example", "karl@customer.example", "Hello again"))
        self.append(
            self.bcc_mail(
                "robot@else.example",
                "karl@customer.example",
                "Automatic",
                headers={"Auto-Submitted": "auto-generated"},
            )
        )
        self.fetch()
        first, second = self.logs(subject="Hello"), self.logs(subject="Hello again")
        for log in first | second:
            self.assertRecordValues(
                log,
                [
                    {
                        "state": "rejected",
                        "kind": "bcc",
                        "reason": "stranger@else.example is not a representative",
                    }
                ],
            )
        self.assertEqual(first.bcc_explained_to, "stranger@else.example")
        self.assertFalse(second.bcc_explained_to)
        explanation = self.explanations("stranger@else.example")
        self.assertEqual(len(explanation), 1)
        self.assertEqual(explanation.subject, "Not logged: Hello")
        self.assertIn("stranger@else.example is not a representative", str(explanation.body_html))
        headers = ast.literal_eval(explanation.headers)
        self.assertEqual(headers["Auto-Submitted"], "auto-replied")
        self.assertEqual(headers["In-Reply-To"], first.message_id)
        # Automatic mail is refused and never answered.
        self.assertEqual(self.logs(subject="Automatic").state, "rejected")

    def test_explanation_goes_to_the_return_path(self):
        """RFC 3834 section 4: the explanation goes to the Return-Path, which is what the
        log records and the hourly guards count."""
        self.append(
            self.bcc_mail(
                "stranger@else.example",
                "karl@customer.example",
                "Hello via relay",
                headers={"Return-Path": "<srs0=ab12=else.example=stranger@relay.example>"},
            )
        )
        self.fetch()
        log = self.logs(subject="Hello via relay")
        self.assertEqual(log.bcc_explained_to, "srs0=ab12=else.example=stranger@relay.example")
        self.assertEqual(len(self.explanations("srs0=ab12=else.example=stranger@relay.example")), 1)
        self.assertFalse(self.explanations("stranger@else.example"))
        self.assertFalse(self.explanations("robot@else.example"))
        self.assertFalse(self.karl.message_ids.filtered(lambda m: m.subject == "Hello"))

    def test_unknown_recipient(self):
        self.append(
            self.bcc_mail("rita@company.example", "nobody@unknown.example", "Cold outreach")
        )
        self.fetch()
        reason = "No contact or lead for nobody@unknown.example"
        self.assertRecordValues(self.logs(), [{"state": "rejected", "reason": reason}])
        explanation = self.explanations("rita@company.example")
        self.assertEqual(len(explanation), 1)
        self.assertIn(reason, str(explanation.body_html))

    def test_ambiguous_recipient(self):
        self.append(self.bcc_mail("rita@company.example", "info@acme.example", "Acme offer"))
        self.fetch()
        reason = "info@acme.example matches 3 contacts: Acme A, Acme B, Acme C"
        self.assertRecordValues(self.logs(), [{"state": "rejected", "reason": reason}])
        self.assertIn(reason, str(self.explanations("rita@company.example").body_html))
        for partner in self.infos:
            self.assertFalse(partner.message_ids.filtered(lambda m: m.subject == "Acme offer"))

    def test_error_report_from_the_mailbox(self):
        self.append(self.bcc_mail("stranger@else.example", "karl@customer.example", "Hi"))
        self.append(self.bcc_mail("rita@company.example", "karl@customer.example", "Logged"))
        self.fetch()
        self.assertEqual(self.server.converter_bcc_error_count, 1)
        action = self.server.action_open_converter_bcc_errors()
        self.assertEqual(action["context"].get("search_default_state_rejected"), 1)
        shown = self.env["mail.converter.log"].search(
            action["domain"] + [("state", "=", "rejected")]
        )
        self.assertEqual(shown.mapped("subject"), ["Hi"])

    def test_simulator_explains_the_bcc_log(self):
        wizard = self.simulate(
            self.bcc_mail("rita@company.example", "karl@customer.example", "Simulated")
        )
        self.assertEqual(wizard.outcome, "BCC log on contact Karl Customer, sent by Rita Rep")
        refused = self.simulate(
            self.bcc_mail("stranger@else.example", "karl@customer.example", "Simulated")
        )
        self.assertEqual(refused.plan_state, "rejected")
        self.assertIn("Explanation mailed to stranger@else.example", refused.outcome)
        self.assertFalse(self.explanations("stranger@else.example"))

    def test_accepted_senders_are_checked(self):
        with self.assertRaises(ValidationError):
            self.server.bcc_accepted_senders = "alias@gmail.example = nobody@company.example"
        with self.assertRaises(ValidationError):
            self.server.bcc_accepted_senders = "not an address"


@tagged("post_install", "-at_install", "mail_converter")
class TestCertifiedMail(SpecialMailCase):
    """C9: a PEC becomes a ticket from its real sender, with the envelope kept."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server.is_pec = True

    def test_pec_becomes_a_ticket_from_the_real_sender(self):
        self.append(sample("pec", "pec_message.eml"))
        self.fetch()
        log = self.logs()
        self.assertRecordValues(
            log,
            [
                {
                    "state": "done",
                    "kind": "pec",
                    "message_id": "<richiesta-1@pec.fornitore.example>",
                    "email_from": "Mario Rossi <mario.rossi@pec.fornitore.example>",
                    "subject": "Richiesta assistenza stampante",
                    "model": "helpdesk.ticket",
                }
            ],
        )
        ticket = self.tickets("Richiesta assistenza stampante")
        self.assertEqual(len(ticket), 1)
        self.assertIn("mario.rossi@pec.fornitore.example", ticket.partner_email)
        self.assertIn("la stampante", str(ticket.description))
        message = log.mail_message_id
        self.assertEqual(message.message_id, "<richiesta-1@pec.fornitore.example>")
        self.assertIn("mario.rossi@pec.fornitore.example", message.email_from)
        self.assertEqual(
            sorted(message.attachment_ids.mapped("name")),
            ["daticert.xml", "pec-envelope.eml", "verbale.pdf"],
        )
        envelope = message.attachment_ids.filtered(lambda a: a.name == "pec-envelope.eml")
        self.assertIn(b"X-Trasporto: posta-certificata", envelope.raw)
        self.assertNotIn("Messaggio di posta certificata", str(message.body))

    def test_same_pec_twice_is_converted_once(self):
        raw = sample("pec", "pec_message.eml")
        again = raw.replace(
            b"Message-ID: <opec21012.20240115103004.01234.567.1.68@pec.provider.example>",
            b"Message-ID: <opec99999.20240115103009.00001.001.1.68@pec.provider.example>",
        )
        self.assertNotEqual(raw, again)
        self.append(raw)
        self.append(again)
        self.fetch()
        self.assertEqual(len(self.tickets("Richiesta assistenza stampante")), 1)
        self.assertEqual(sorted(self.logs().mapped("state")), ["done", "duplicate"])

    def test_receipts_are_filed_on_their_conversation(self):
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Offerta fornitura 2024", "description": "Offer"}
        )
        ticket.message_post(
            body="In allegato la nostra offerta.",
            message_type="comment",
            message_id="<offerta-2024@pec.company.example>",
        )
        tickets_before = self.env["helpdesk.ticket"].search_count([])
        self.append(sample("pec", "pec_acceptance.eml"))
        self.append(sample("pec", "pec_delivery.eml"))
        self.fetch()
        logs = self.logs()
        self.assertEqual(
            sorted(logs.mapped(lambda log: (log.state, log.kind, log.pec_receipt_type))),
            [
                ("done", "pec_receipt", "accettazione"),
                ("done", "pec_receipt", "avvenuta-consegna"),
            ],
        )
        self.assertEqual(set(logs.mapped("res_id")), {ticket.id})
        self.assertEqual(self.env["helpdesk.ticket"].search_count([]), tickets_before)
        notes = ticket.message_ids.filtered(lambda m: "PEC receipt" in str(m.body))
        self.assertEqual(len(notes), 2)
        delivered = notes.filtered(lambda m: "delivered" in str(m.body))
        self.assertIn("acquisti@pec.cliente.example", str(delivered.body))
        self.assertIn("daticert.xml", delivered.attachment_ids.mapped("name"))
        self.assertTrue(all(note.subtype_id.internal for note in notes))

    def test_receipts_only_for_mail_this_company_sent(self):
        """A receipt naming an incoming email, or a message of another company's ticket,
        is only logged."""
        other = self.env["res.company"].create({"name": "Other PEC Company"})
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Offerta fornitura 2024", "description": "Offer", "company_id": other.id}
        )
        ticket.message_post(
            body="In allegato la nostra offerta.",
            message_type="comment",
            message_id="<offerta-2024@pec.company.example>",
        )
        self.append(sample("pec", "pec_acceptance.eml"))
        self.fetch()
        self.assertEqual(self.logs().state, "discarded")
        self.assertFalse(ticket.message_ids.filtered(lambda m: "PEC receipt" in str(m.body)))
        # An incoming email under that Message-ID, in our company: written by a stranger.
        ours = self.env["helpdesk.ticket"].create({"name": "Incoming", "description": "x"})
        ours.message_post(
            body="Hello", message_type="email", message_id="<offerta-2024@pec.company.example>"
        )
        self.append(sample("pec", "pec_delivery.eml"))
        self.fetch()
        self.assertEqual(set(self.logs().mapped("state")), {"discarded"})
        self.assertFalse(ours.message_ids.filtered(lambda m: "PEC receipt" in str(m.body)))

    def test_receipt_without_conversation_is_logged(self):
        self.append(sample("pec", "pec_acceptance.eml"))
        self.fetch()
        log = self.logs()
        self.assertRecordValues(
            log, [{"state": "discarded", "kind": "pec_receipt", "pec_receipt_type": "accettazione"}]
        )
        self.assertIn("no conversation holds <offerta-2024@pec.company.example>", log.reason)
        self.assertFalse(self.tickets("ACCETTAZIONE: Offerta fornitura 2024"))

    def test_broken_envelope_is_converted_as_received(self):
        self.append(sample("pec", "pec_broken.eml"))
        self.fetch()
        log = self.logs()
        self.assertRecordValues(log, [{"state": "done", "model": "helpdesk.ticket"}])
        self.assertIn("PEC envelope without postacert.eml: converted as received", log.reason)
        self.assertEqual(len(self.tickets("POSTA CERTIFICATA: Sollecito pagamento")), 1)

    def test_simulator_explains_pec_and_receipts(self):
        wizard = self.simulate(sample("pec", "pec_message.eml"))
        self.assertTrue(
            wizard.outcome.startswith("PEC from mario.rossi@pec.fornitore.example: Create a new"),
            wizard.outcome,
        )
        receipt = self.simulate(sample("pec", "pec_acceptance.eml"))
        self.assertTrue(
            receipt.outcome.startswith(
                "PEC from posta-certificata@pec.company-provider.example, "
                "receipt of type accettazione: Discarded"
            ),
            receipt.outcome,
        )

"""ID tags and reply headers are trusted only from the people of the record they name (C5).

Each test is an attack first: a stranger quoting a ticket number, or replying with a
reference to someone else's conversation, must get a record of their own.
"""

from odoo import fields
from odoo.tests import tagged

from .common import MailConverterCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestTrustedSenders(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        Partner = cls.env["res.partner"]
        cls.corp = Partner.create(
            {
                "name": "Customer Corp",
                "is_company": True,
                "email": "office@customer.example",
                "website": "https://www.customer.example",
            }
        )
        cls.carla = Partner.create(
            {"name": "Carla Customer", "email": "carla@customer.example", "parent_id": cls.corp.id}
        )
        cls.colin = Partner.create(
            {"name": "Colin Colleague", "email": "colin@customer.example", "parent_id": cls.corp.id}
        )
        cls.fiona = Partner.create({"name": "Fiona Follower", "email": "fiona@partner.example"})
        cls.bob = Partner.create({"name": "Bob Recipient", "email": "bob@elsewhere.example"})
        cls.agent = cls.env["res.users"].create(
            {"name": "Agent Anna", "login": "anna@company.example", "email": "anna@company.example"}
        )
        cls.colleague = cls.env["res.users"].create(
            {
                "name": "Colleague Cid",
                "login": "cid@company.example",
                "email": "cid@company.example",
            }
        )
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {
                "name": "Invoice question",
                "description": "x",
                "partner_id": cls.carla.id,
                "user_id": cls.agent.id,
            }
        )
        cls.ticket.message_subscribe(partner_ids=cls.fiona.ids)

    def _log(self, subject):
        return self.logs(subject=subject)

    def _on_ticket(self, message_id):
        return message_id in self.ticket.message_ids.mapped("message_id")

    def test_stranger_quoting_a_ticket_number_gets_a_ticket_of_their_own(self):
        subject = f"Re: [{self.ticket.number}] new bank details"
        self.append(
            make_email(
                subject=subject,
                email_from="Mallory <mallory@evil.example>",
                body="Please wire the money to our new account.",
                message_id="<phish@evil.example>",
            )
        )
        self.fetch()
        log = self._log(subject)
        self.assertEqual(log.state, "done")
        self.assertEqual(log.model, "helpdesk.ticket")
        self.assertNotEqual(log.res_id, self.ticket.id)
        self.assertFalse(self._on_ticket("<phish@evil.example>"), "nothing lands on the ticket")
        own = self.env["helpdesk.ticket"].browse(log.res_id)
        self.assertEqual(own.name, subject)
        self.assertEqual(own.partner_id.email, "mallory@evil.example")
        self.assertNotIn(
            ("helpdesk.ticket", self.ticket.id), [(lk.model, lk.res_id) for lk in log.link_ids]
        )
        # The log says why: a suspicious tag, naming the ticket.
        self.assertIn(self.ticket.number, log.reason)
        self.assertIn("not trusted", log.reason)
        # Followers of the customer's ticket never receive the stranger's text.
        self.assertFalse(
            self.env["mail.mail"].search([("body_html", "ilike", "new account")]),
        )

    def test_people_of_the_ticket_are_trusted(self):
        senders = {
            "customer": "Carla <carla@customer.example>",
            "customer's colleague": "Colin <colin@customer.example>",
            "follower": "Fiona <fiona@partner.example>",
            "assigned user": "Anna <anna@company.example>",
        }
        for who, sender in senders.items():
            self.append(
                make_email(
                    subject=f"[{self.ticket.number}] from the {who}",
                    email_from=sender,
                    message_id=f"<{who.replace(' ', '-').replace(chr(39), '')}@trusted.example>",
                )
            )
        self.fetch()
        for who in senders:
            log = self._log(f"[{self.ticket.number}] from the {who}")
            self.assertRecordValues(
                log, [{"state": "done", "model": "helpdesk.ticket", "res_id": self.ticket.id}]
            )
            self.assertFalse(log.reason, who)

    def test_customer_company_domain_is_a_mailbox_option(self):
        subject = f"[{self.ticket.number}] from the customer's new hire"
        raw = make_email(subject=subject, email_from="Nora <nora@customer.example>")
        self.assertFalse(self.server.converter_trust_company_domain, "off by default")
        self.append(raw)
        self.fetch()
        self.assertNotEqual(self._log(subject).res_id, self.ticket.id)

        # With the option, an unknown address of the customer's domain belongs.
        self.server.converter_trust_company_domain = True
        subject2 = f"[{self.ticket.number}] from the customer's other new hire"
        self.append(make_email(subject=subject2, email_from="Olga <olga@customer.example>"))
        # Free-mail domains never make a company: a gmail customer does not trust all of gmail.
        gmail = self.env["res.partner"].create({"name": "Gina", "email": "gina@gmail.com"})
        gmail_ticket = self.env["helpdesk.ticket"].create(
            {"name": "Gmail customer", "description": "x", "partner_id": gmail.id}
        )
        subject3 = f"[{gmail_ticket.number}] another gmail user"
        self.append(make_email(subject=subject3, email_from="eve@gmail.com"))
        self.fetch()
        self.assertRecordValues(
            self._log(subject2), [{"model": "helpdesk.ticket", "res_id": self.ticket.id}]
        )
        self.assertNotEqual(self._log(subject3).res_id, gmail_ticket.id)

    def test_reply_headers_trusted_from_the_recipients_of_the_message(self):
        sent = self.ticket.message_post(
            body="Here is your invoice",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=self.bob.ids,
        )
        self.assertNotIn(self.bob, self.ticket.message_partner_ids, "Bob is only a recipient")
        headers = {"In-Reply-To": sent.message_id, "References": sent.message_id}
        self.append(
            make_email(
                subject="Re: Here is your invoice",
                email_from="Mallory <mallory@evil.example>",
                message_id="<stranger-reply@evil.example>",
                headers=headers,
            )
        )
        self.append(
            make_email(
                subject="Re: Here is your invoice (Bob)",
                email_from="Bob <bob@elsewhere.example>",
                message_id="<bob-reply@elsewhere.example>",
                headers=headers,
            )
        )
        self.fetch()
        stranger = self._log("Re: Here is your invoice")
        self.assertNotEqual(stranger.res_id, self.ticket.id)
        self.assertFalse(self._on_ticket("<stranger-reply@evil.example>"))
        self.assertIn("not trusted", stranger.reason)
        self.assertRecordValues(
            self._log("Re: Here is your invoice (Bob)"),
            [{"model": "helpdesk.ticket", "res_id": self.ticket.id}],
        )
        self.assertTrue(self._on_ticket("<bob-reply@elsewhere.example>"))

    def test_lead_tag_from_a_stranger(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Big deal",
                "partner_id": self.carla.id,
                "email_from": "carla@customer.example",
            }
        )
        self.env["mail.converter.tag"].create(
            {
                "name": "Lead case",
                "regex": r"\[LC(\d+)\]",
                "model_id": self.env["ir.model"]._get("crm.lead").id,
                "field_id": self.env["ir.model.fields"]._get("crm.lead", "id").id,
            }
        )
        self.append(make_email(subject=f"Offer [LC{lead.id}]", email_from="rival@other.example"))
        self.append(
            make_email(subject=f"Signed [LC{lead.id}]", email_from="carla@customer.example")
        )
        self.fetch()
        rival = self._log(f"Offer [LC{lead.id}]")
        self.assertNotEqual((rival.model, rival.res_id), ("crm.lead", lead.id))
        self.assertNotIn(("crm.lead", lead.id), [(lk.model, lk.res_id) for lk in rival.link_ids])
        self.assertIn("not trusted", rival.reason)
        self.assertRecordValues(
            self._log(f"Signed [LC{lead.id}]"), [{"model": "crm.lead", "res_id": lead.id}]
        )

    def test_rule_update_the_ticket_trusts_only_its_people(self):
        rule = self.env["mail.converter.rule"].create(
            {
                "name": "Ticket replies",
                "action": "ticket_update",
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "regex", "value": r"\[HT\d+\]"}
                    )
                ],
            }
        )
        # The ID tag would see it too: switch it off to test the rule's own lookup.
        self.env.ref("mail_converter.tag_helpdesk_ticket_number").active = False
        stranger = f"[{self.ticket.number}] urgent"
        customer = f"[{self.ticket.number}] thanks"
        self.append(make_email(subject=stranger, email_from="mallory@evil.example"))
        self.append(make_email(subject=customer, email_from="carla@customer.example"))
        self.fetch()
        log = self._log(stranger)
        self.assertEqual(log.rule_id, rule)
        self.assertEqual(log.model, "helpdesk.ticket")
        self.assertNotEqual(log.res_id, self.ticket.id, "the rule creates a ticket instead")
        self.assertIn("not trusted", log.reason)
        self.assertRecordValues(
            self._log(customer), [{"model": "helpdesk.ticket", "res_id": self.ticket.id}]
        )

    def test_staff_sending_from_an_outbound_folder_are_trusted(self):
        self.server.converter_folder_ids = [
            fields.Command.create({"path": "Sent", "direction": "outbound"})
        ]
        subject = f"[{self.ticket.number}] our answer"
        self.append(
            make_email(
                subject=subject,
                email_from="Cid <cid@company.example>",
                to="carla@customer.example",
                message_id="<staff-answer@company.example>",
            ),
            folder="Sent",
        )
        self.fetch()
        self.assertRecordValues(
            self._log(subject), [{"model": "helpdesk.ticket", "res_id": self.ticket.id}]
        )
        self.assertTrue(self._on_ticket("<staff-answer@company.example>"))

    def test_simulator_shows_the_suspicious_tag(self):
        raw = make_email(subject=f"[{self.ticket.number}] hello", email_from="mallory@evil.example")
        wizard = self.env["mail.converter.simulator"].create(
            {"server_id": self.server.id, "eml_text": raw.decode()}
        )
        wizard.action_simulate()
        self.assertEqual(wizard.plan_route, "helpdesk.ticket,new")
        self.assertIn(self.ticket.number, wizard.outcome)
        self.assertIn("not trusted", wizard.outcome)

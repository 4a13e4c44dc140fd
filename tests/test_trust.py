"""ID tags and reply headers file an email on a record only for the record's people (C5, issue 9)."""

from odoo import fields
from odoo.tests import tagged

from .common import MailConverterCase, customer_ticket, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestTrust(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acme, cls.carla, cls.agent, cls.ticket = customer_ticket(
            cls.env, "agent-trust@company.example", "Agent Smith"
        )

    def _tagged(self, subject_prefix, email_from, message_id):
        self.append(
            make_email(
                subject=f"{subject_prefix} [{self.ticket.number}]",
                email_from=email_from,
                message_id=message_id,
            )
        )

    def test_stranger_quoting_a_ticket_number_gets_a_new_ticket(self):
        """The attack: a stranger puts [HT00042] in a subject to post on someone's ticket."""
        self._tagged("Urgent: new bank details", "Mallory <mallory@evil.example>", "<evil@x>")
        self.fetch()
        log = self.logs(message_id="<evil@x>")
        self.assertEqual(log.state, "done")
        self.assertNotEqual(log.res_id, self.ticket.id)
        self.assertNotIn("<evil@x>", self.ticket.message_ids.mapped("message_id"))
        self.assertNotIn(
            ("helpdesk.ticket", self.ticket.id), [(x.model, x.res_id) for x in log.link_ids]
        )
        new = self.tickets(f"Urgent: new bank details [{self.ticket.number}]")
        self.assertEqual(len(new), 1, "handled as a new email: its own ticket")
        self.assertIn("mallory@evil.example does not belong to it", log.reason)
        self.assertIn(self.ticket.display_name, log.reason)
        # Followers of the real ticket were told nothing.
        self.assertFalse(
            self.env["mail.mail"]
            .search([("body_html", "ilike", "new bank details")])
            .filtered(lambda m: m.model == "helpdesk.ticket" and m.res_id == self.ticket.id)
        )

    def test_the_record_people_are_trusted(self):
        follower = self.env["res.partner"].create(
            {"name": "Fiona Follower", "email": "fiona@partner.example"}
        )
        self.ticket.message_subscribe(partner_ids=follower.ids)
        self._tagged("Customer", "Carla <carla@acme.example>", "<by-customer@x>")
        self._tagged("Follower", "fiona@partner.example", "<by-follower@x>")
        self._tagged("Assignee", "agent-trust@company.example", "<by-assignee@x>")
        self.fetch()
        for message_id in ("<by-customer@x>", "<by-follower@x>", "<by-assignee@x>"):
            log = self.logs(message_id=message_id)
            self.assertRecordValues(
                log, [{"state": "done", "model": "helpdesk.ticket", "res_id": self.ticket.id}]
            )
            self.assertIn(message_id, self.ticket.message_ids.mapped("message_id"))

    def test_company_domain_only_when_the_mailbox_allows_it(self):
        self._tagged("Colleague", "Bob <bob@acme.example>", "<colleague-1@x>")
        self.fetch()
        self.assertNotEqual(self.logs(message_id="<colleague-1@x>").res_id, self.ticket.id)
        self.server.converter_trust_company_domain = True
        self._tagged("Colleague again", "Bob <bob@acme.example>", "<colleague-2@x>")
        # A free-mail address is never "the customer's domain".
        self.carla.email = "carla@gmail.com"
        self.acme.website = False
        self._tagged("Gmail neighbour", "eve@gmail.com", "<freemail@x>")
        self.carla.email = "carla@acme.example"
        self.acme.website = "https://www.acme.example"
        self.fetch()
        self.assertEqual(self.logs(message_id="<colleague-2@x>").res_id, self.ticket.id)
        self.assertNotEqual(self.logs(message_id="<freemail@x>").res_id, self.ticket.id)

    def test_reply_headers_from_a_stranger_open_a_new_ticket(self):
        message = self.ticket.message_post(body="We are on it", message_type="comment")
        self.append(
            make_email(
                subject="Re: Broken printer",
                email_from="mallory@evil.example",
                message_id="<evil-reply@x>",
                headers={"In-Reply-To": message.message_id, "References": message.message_id},
            )
        )
        self.fetch()
        log = self.logs(message_id="<evil-reply@x>")
        self.assertNotEqual(log.res_id, self.ticket.id)
        self.assertIn("Reply header names", log.reason)
        self.assertEqual(len(self.tickets("Re: Broken printer")), 1)

    def test_reply_to_a_message_sent_to_the_sender(self):
        """Odoo's own gateway trusts a reply to what it sent: the sender was a recipient."""
        consultant = self.env["res.partner"].create(
            {"name": "Conny Consultant", "email": "conny@consulting.example"}
        )
        sent = self.ticket.message_post(
            body="Could you check the toner?",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=consultant.ids,
        )
        self.assertNotIn(consultant, self.ticket.message_partner_ids)
        self.append(
            make_email(
                subject="Re: toner",
                email_from="Conny <conny@consulting.example>",
                message_id="<conny-reply@x>",
                headers={"In-Reply-To": sent.message_id},
            )
        )
        self.fetch()
        self.assertRecordValues(
            self.logs(message_id="<conny-reply@x>"),
            [{"state": "done", "model": "helpdesk.ticket", "res_id": self.ticket.id}],
        )

    def test_rule_update_the_ticket_trusts_only_the_record_people(self):
        self.env["mail.converter.rule"].search([]).action_archive()
        rule = self.env["mail.converter.rule"].create(
            {"name": "Ticket replies", "action": "ticket_update"}
        )
        self._tagged("By the customer", "carla@acme.example", "<rule-customer@x>")
        self._tagged("By a stranger", "mallory@evil.example", "<rule-stranger@x>")
        self.fetch()
        self.assertRecordValues(
            self.logs(message_id="<rule-customer@x>"),
            [{"model": "helpdesk.ticket", "res_id": self.ticket.id, "rule_id": rule.id}],
        )
        stranger = self.logs(message_id="<rule-stranger@x>")
        self.assertEqual(stranger.rule_id, rule)
        self.assertNotEqual(stranger.res_id, self.ticket.id)
        self.assertEqual(len(self.tickets(f"By a stranger [{self.ticket.number}]")), 1)
        self.assertIn("does not belong to it", stranger.reason)

    def test_lead_tags_trust_the_lead_people_and_the_simulator_says_why(self):
        lead = self.env["crm.lead"].create(
            {"name": "Fleet deal", "email_from": "buyer@corp.example"}
        )
        self.env["mail.converter.tag"].create(
            {
                "name": "Lead case",
                "regex": r"\[LC(\d+)\]",
                "model_id": self.env["ir.model"]._get("crm.lead").id,
                "field_id": self.env["ir.model.fields"]._get("crm.lead", "id").id,
            }
        )
        stranger = make_email(subject=f"Contract [LC{lead.id}]", email_from="x@evil.example")
        wizard = self.env["mail.converter.simulator"].create(
            {"server_id": self.server.id, "eml_text": stranger.decode()}
        )
        wizard.action_simulate()
        self.assertIn("x@evil.example does not belong to it", wizard.outcome)
        self.append(stranger)
        self.append(
            make_email(
                subject=f"Signed [LC{lead.id}]",
                email_from="buyer@corp.example",
                message_id="<buyer@x>",
            )
        )
        self.fetch()
        self.assertNotEqual(self.logs(subject=f"Contract [LC{lead.id}]").res_id, lead.id)
        self.assertRecordValues(
            self.logs(message_id="<buyer@x>"), [{"model": "crm.lead", "res_id": lead.id}]
        )


@tagged("post_install", "-at_install", "mail_converter")
class TestTrustCustomerCompanyAndSentMail(MailConverterCase):
    """Who else belongs: the customer company's other contacts, and our staff's sent mail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.corp = Partner.create(
            {"name": "Customer Corp", "is_company": True, "email": "office@customer.example"}
        )
        cls.carla = Partner.create(
            {"name": "Carla Customer", "email": "carla@customer.example", "parent_id": cls.corp.id}
        )
        cls.colin = Partner.create(
            {"name": "Colin Colleague", "email": "colin@customer.example", "parent_id": cls.corp.id}
        )
        # An internal user without helpdesk rights: he may not read the ticket.
        cls.seller = cls.env["res.users"].create(
            {"name": "Sam Seller", "login": "sam@company.example", "email": "sam@company.example"}
        )
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {"name": "Invoice question", "description": "x", "partner_id": cls.carla.id}
        )

    def test_contacts_of_the_customer_company_belong(self):
        self.assertFalse(self.server.converter_trust_company_domain)
        self.append(
            make_email(
                subject=f"[{self.ticket.number}] from Carla's colleague",
                email_from="Colin <colin@customer.example>",
                message_id="<colin@customer.example>",
            )
        )
        # Another contact of the same domain but not of the customer's company does not.
        self.env["res.partner"].create({"name": "Nina", "email": "nina@customer.example"})
        self.append(
            make_email(
                subject=f"[{self.ticket.number}] from a namesake domain",
                email_from="nina@customer.example",
                message_id="<nina@customer.example>",
            )
        )
        self.fetch()
        self.assertRecordValues(
            self.logs(message_id="<colin@customer.example>"),
            [{"model": "helpdesk.ticket", "res_id": self.ticket.id}],
        )
        nina = self.logs(message_id="<nina@customer.example>")
        self.assertNotEqual(nina.res_id, self.ticket.id)
        self.assertIn("nina@customer.example does not belong to it", nina.reason)

    def test_staff_mail_from_an_outbound_folder_belongs(self):
        self.server.converter_folder_ids = [
            fields.Command.create({"path": "Sent", "direction": "outbound"})
        ]
        self.assertFalse(self.ticket.with_user(self.seller).has_access("read"))
        self.append(
            make_email(
                subject=f"[{self.ticket.number}] our answer",
                email_from="Sam <sam@company.example>",
                to="carla@customer.example",
                message_id="<sent-answer@company.example>",
            ),
            folder="Sent",
        )
        self.fetch()
        self.assertRecordValues(
            self.logs(message_id="<sent-answer@company.example>"),
            [{"model": "helpdesk.ticket", "res_id": self.ticket.id}],
        )
        self.assertIn("<sent-answer@company.example>", self.ticket.message_ids.mapped("message_id"))

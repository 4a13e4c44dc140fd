from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import MailConverterCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestLinkingOptions(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.newco = Partner.create(
            {"name": "NewCo", "is_company": True, "website": "https://www.newco.example"}
        )
        Partner.create({"name": "Gmail Inc", "is_company": True, "website": "https://gmail.com"})
        cls.alice = Partner.create({"name": "Alice Martin", "email": "alice@acme.example"})
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Agent Smith",
                "login": "agent@company.example",
                "email": "agent@company.example",
            }
        )
        cls.lead_owner = cls.env["res.users"].create(
            {
                "name": "Default Owner",
                "login": "owner@company.example",
                "email": "owner@company.example",
            }
        )

    def _ticket(self, subject):
        return self.env["helpdesk.ticket"].browse(self.logs(subject=subject).res_id)

    def test_contact_created_for_mail_to_info(self):
        self.server.contact_creation_addresses = "info@company.example, sales@company.example"
        self.append(
            make_email(
                subject="Interested",
                email_from='"Doe, John" <John.Doe@newco.example>',
                to="info@company.example",
            )
        )
        self.append(
            make_email(
                subject="Free mail",
                email_from="Jane Roe <jane.roe@gmail.com>",
                to="Sales <sales@company.example>",
            )
        )
        self.append(
            make_email(
                subject="Not to info",
                email_from="Max Muster <max@newco.example>",
                to="support@company.example",
            )
        )
        self.fetch()
        john = self.env["res.partner"].search([("email", "=", "john.doe@newco.example")])
        self.assertRecordValues(
            john, [{"name": "John Doe", "mail_converter_created": True, "parent_id": self.newco.id}]
        )
        ticket = self._ticket("Interested")
        self.assertEqual(ticket.partner_id, john)
        filed = {
            (link.model, link.res_id): link.reason
            for link in self.logs(subject="Interested").link_ids
        }
        self.assertIn("New contact", filed[("res.partner", john.id)])
        self.assertIn("same domain", filed[("res.partner", self.newco.id)])
        jane = self.env["res.partner"].search([("email", "=", "jane.roe@gmail.com")])
        self.assertRecordValues(
            jane, [{"name": "Jane Roe", "parent_id": False, "mail_converter_created": True}]
        )
        # Not to info@, but it opens a ticket: its unknown sender becomes the ticket's contact (C6).
        max_muster = self.env["res.partner"].search([("email", "=", "max@newco.example")])
        self.assertEqual(self._ticket("Not to info").partner_id, max_muster)

    def test_only_linked(self):
        self.server.only_linked = True
        self.append(make_email(subject="Stranger", email_from="stranger@nowhere.example"))
        self.append(
            make_email(
                subject="Known customer",
                email_from="Alice <alice@acme.example>",
                cc="colleague@nowhere.example",
            )
        )
        self.append(
            make_email(
                subject="Only staff", email_from="agent@company.example", to="owner@company.example"
            )
        )
        self.fetch()
        self.assertEqual(self.logs(subject="Stranger").state, "discarded")
        self.assertIn("Not linked", self.logs(subject="Stranger").reason)
        self.assertEqual(
            self.logs(subject="Only staff").state, "discarded", "users do not count as links"
        )
        self.assertEqual(self.logs(subject="Known customer").state, "done")
        # A reply to an existing conversation is linked, even from an address no contact has,
        # when its sender was part of it (in Cc of the email replied to); a stranger's is not.
        ticket = self._ticket("Known customer")
        replied = self.logs(subject="Known customer").mail_message_id
        self.append(
            make_email(
                subject="Re: Known customer",
                email_from="colleague@nowhere.example",
                headers={"In-Reply-To": replied.message_id},
            )
        )
        self.append(
            make_email(
                subject="Re: Known customer (stranger)",
                email_from="stranger@nowhere.example",
                headers={"In-Reply-To": replied.message_id},
            )
        )
        self.fetch()
        self.assertEqual(self.logs(subject="Re: Known customer").res_id, ticket.id)
        stranger = self.logs(subject="Re: Known customer (stranger)")
        self.assertEqual(stranger.state, "discarded")
        self.assertIn("Not linked", stranger.reason)

    def test_never_import_list(self):
        self.server.excluded_addresses = "ceo@company.example\nhr@company.example"
        self.append(make_email(subject="Salary talk", cc="CEO <CEO@company.example>"))
        self.fetch()
        log = self.logs()
        self.assertEqual(log.state, "discarded")
        self.assertIn("ceo@company.example", log.reason)
        self.assertFalse(self.tickets("Salary talk"))

    def test_assignment(self):
        self.server.default_user_id = self.lead_owner
        self.append(
            make_email(
                subject="For the agent", to="Agent <agent@company.example>, support@company.example"
            )
        )
        self.append(make_email(subject="For nobody", to="support@company.example"))
        self.fetch()
        self.assertEqual(self._ticket("For the agent").user_id, self.agent)
        self.assertEqual(self._ticket("For nobody").user_id, self.lead_owner)

    def test_outbound_mail_filed_on_recipients(self):
        self.server.converter_folder_ids = [
            fields.Command.create({"path": "Sent", "direction": "outbound"})
        ]
        self.server.create_outbound_contacts = True
        self.append(
            make_email(
                subject="Your visit",
                email_from="Agent Smith <agent@company.example>",
                to="Alice <alice@acme.example>",
                message_id="<visit@company.example>",
            ),
            folder="Sent",
        )
        self.append(
            make_email(
                subject="Our offer",
                email_from="Agent Smith <agent@company.example>",
                to="Nina New <nina@newco.example>",
            ),
            folder="Sent",
        )
        self.fetch()
        self.assertFalse(self.tickets("Your visit"), "sent mail never opens a ticket")
        visit = self.logs(subject="Your visit")
        self.assertRecordValues(
            visit,
            [
                {
                    "state": "done",
                    "direction": "outbound",
                    "model": "res.partner",
                    "res_id": self.alice.id,
                }
            ],
        )
        self.assertIn("<visit@company.example>", self.alice.message_ids.mapped("message_id"))
        self.assertEqual(visit.mail_message_id.author_id, self.agent.partner_id)
        nina = self.env["res.partner"].search([("email", "=", "nina@newco.example")])
        self.assertTrue(nina.mail_converter_created)
        self.assertEqual(nina.parent_id, self.newco)
        self.assertEqual(self.logs(subject="Our offer").res_id, nina.id)

    def test_mail_from_an_address_forgets_its_bounces(self):
        """As Odoo's gateway does: mail from an address proves it works again."""
        self.alice.message_bounce = 3
        lead = self.env["crm.lead"].create({"name": "Deal", "email_from": "alice@acme.example"})
        lead.message_bounce = 2
        self.append(make_email(subject="I am back", email_from="Alice <alice@acme.example>"))
        self.append(make_email(subject="Unknown sender", email_from="nobody@nowhere.example"))
        self.fetch()
        self.assertEqual((self.alice.message_bounce, lead.message_bounce), (0, 0))
        self.assertEqual(self.logs(subject="Unknown sender").state, "done")

    def test_mail_from_another_odoo_is_converted(self):
        self.append(
            make_email(
                subject="From their Odoo",
                email_from="support@other.example",
                message_id="<398412.1712-openerp-42-helpdesk.ticket@other.example>",
                headers={"References": "<111.222-openerp-7-crm.lead@other.example>"},
            )
        )
        self.fetch()
        self.assertEqual(self.logs().state, "done")
        self.assertEqual(len(self.tickets("From their Odoo")), 1)


@tagged("post_install", "-at_install", "mail_converter")
class TestIdTags(MailConverterCase):
    def test_ticket_number_in_subject_files_on_ticket(self):
        # The sender is the ticket's customer: only the record's people are trusted (test_trust).
        customer = self.env["res.partner"].create(
            {"name": "New Person", "email": "new@person.example"}
        )
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Printer", "description": "x", "partner_id": customer.id}
        )
        self.assertTrue(ticket.number.startswith("HT"))
        self.append(
            make_email(
                subject=f"Update on [{ticket.number}] please",
                email_from="new@person.example",
                message_id="<tagged@person.example>",
            )
        )
        self.append(
            make_email(subject="Unrelated [HT99999]", message_id="<unknown-tag@person.example>")
        )
        self.fetch()
        log = self.logs(message_id="<tagged@person.example>")
        self.assertRecordValues(
            log, [{"state": "done", "model": "helpdesk.ticket", "res_id": ticket.id}]
        )
        self.assertIn("<tagged@person.example>", ticket.message_ids.mapped("message_id"))
        self.assertFalse(self.tickets(f"Update on [{ticket.number}] please"))
        self.assertTrue(any("Tag Helpdesk ticket number" in link.reason for link in log.link_ids))
        # A tag naming no record opens a new ticket as usual.
        self.assertEqual(len(self.tickets("Unrelated [HT99999]")), 1)

    def test_custom_tag_and_unsafe_pattern_refused(self):
        Tag = self.env["mail.converter.tag"]
        with self.assertRaisesRegex(ValidationError, "back-references"), self.env.cr.savepoint():
            Tag.create(
                {
                    "name": "Bad",
                    "regex": r"\[(HT\d+)\] \1",
                    "model_id": self.ticket_model.id,
                    "field_id": self.env.ref("helpdesk_mgmt.field_helpdesk_ticket__number").id,
                }
            )
        with (
            self.assertRaisesRegex(ValidationError, "Invalid regular expression"),
            self.env.cr.savepoint(),
        ):
            Tag.create(
                {
                    "name": "Broken",
                    "regex": r"[HT",
                    "model_id": self.ticket_model.id,
                    "field_id": self.env.ref("helpdesk_mgmt.field_helpdesk_ticket__number").id,
                }
            )
        # A case tag on leads, by id: "[LC42]" files on lead 42.
        lead = self.env["crm.lead"].create({"name": "Big deal", "email_from": "buyer@corp.example"})
        Tag.create(
            {
                "name": "Lead case",
                "regex": r"\[LC(\d+)\]",
                "model_id": self.env["ir.model"]._get("crm.lead").id,
                "field_id": self.env["ir.model.fields"]._get("crm.lead", "id").id,
            }
        )
        self.append(make_email(subject=f"Contract [LC{lead.id}]", email_from="buyer@corp.example"))
        self.fetch()
        self.assertRecordValues(self.logs(), [{"model": "crm.lead", "res_id": lead.id}])


@tagged("post_install", "-at_install", "mail_converter")
class TestReplyHeaders(MailConverterCase):
    def test_reply_to_mail_sent_from_a_lead_lands_on_lead_and_customer(self):
        customer = self.env["res.partner"].create(
            {"name": "Carla Customer", "email": "carla@corp.example"}
        )
        lead = self.env["crm.lead"].create({"name": "Fleet renewal", "partner_id": customer.id})
        # Carla's assistant writes from her company's domain: trusted when the mailbox says so.
        self.server.converter_trust_company_domain = True
        sent = lead.message_post(
            body="Here is our offer", message_type="email", partner_ids=customer.ids
        )
        self.append(
            make_email(
                subject="Re: Fleet renewal",
                email_from="Assistant <assistant@corp.example>",
                message_id="<reply-offer@corp.example>",
                headers={"In-Reply-To": sent.message_id, "References": sent.message_id},
            )
        )
        self.fetch()
        log = self.logs()
        self.assertRecordValues(log, [{"state": "done", "model": "crm.lead", "res_id": lead.id}])
        self.assertIn("<reply-offer@corp.example>", lead.message_ids.mapped("message_id"))
        self.assertFalse(self.tickets("Re: Fleet renewal"))
        filed = {(link.model, link.res_id): link.reason for link in log.link_ids}
        self.assertIn("Contact of", filed[("res.partner", customer.id)])
        customer.invalidate_recordset()
        self.assertEqual(customer.mail_converter_email_count, 1)

from odoo.tests import tagged

from .common import MailConverterCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestMatching(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.acme = Partner.create(
            {"name": "Acme Tools", "is_company": True, "email": "office@acme.example"}
        )
        cls.alice = Partner.create(
            {"name": "Alice Martin", "email": "Alice.Martin@acme.example", "parent_id": cls.acme.id}
        )
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Bob's quote",
                "email_from": "bob@prospect.example",
                "contact_name": "Bob Prospect",
            }
        )
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Agent Smith",
                "login": "agent@company.example",
                "email": "agent@company.example",
            }
        )

    def _filed(self, log):
        return {(link.model, link.res_id): link for link in log.link_ids}

    def test_filed_on_every_matching_record(self):
        self.append(
            make_email(
                subject="Order question",
                message_id="<order-q@acme.example>",
                email_from='"Martin, Alice" <alice.martin@ACME.example>',
                to="support@company.example",
                cc="Bob <bob@prospect.example>, Agent Smith <agent@company.example>, nobody@unknown.example",
                attachments=[("order.pdf", b"%PDF-1.4 order", "application/pdf")],
            )
        )
        self.fetch()
        log = self.logs()
        ticket = self.env["helpdesk.ticket"].browse(log.res_id)
        self.assertEqual(ticket.name, "Order question")
        filed = self._filed(log)
        self.assertEqual(filed[("helpdesk.ticket", ticket.id)].role, "primary")
        self.assertEqual(
            filed[("res.partner", self.alice.id)].reason, "From: alice.martin@acme.example"
        )
        self.assertEqual(filed[("res.partner", self.acme.id)].reason, "Company of Alice Martin")
        self.assertIn("Cc: bob@prospect.example", filed[("crm.lead", self.lead.id)].reason)
        self.assertIn(("res.users", self.agent.id), filed)
        self.assertEqual(
            len(filed), 6
        )  # ticket, Alice, Acme, lead, agent and the agent's own contact

        # The salesperson sees it from the contact, the company and the lead, with its attachment.
        for record in (self.alice, self.acme, self.lead):
            record.invalidate_recordset()
            self.assertEqual(record.mail_converter_email_count, 1, record.display_name)
            action = record.action_mail_converter_emails()
            messages = self.env["mail.message"].search(action["domain"])
            self.assertEqual(messages, log.mail_message_id)
        self.assertEqual(log.mail_message_id.attachment_ids.mapped("name"), ["order.pdf"])
        # ... and the agent sees it on their user too.
        self.agent.invalidate_recordset()
        self.assertEqual(self.agent.mail_converter_email_count, 1)
        self.assertEqual(
            self.env["mail.message"].search(self.agent.action_mail_converter_emails()["domain"]),
            log.mail_message_id,
        )
        # The message itself is stored once, in the ticket's chatter.
        self.assertEqual(
            self.env["mail.message"].search_count([("message_id", "=", "<order-q@acme.example>")]),
            1,
        )

    def test_excluded_record_blocks_import(self):
        self.lead.mail_converter_exclude = True
        self.append(
            make_email(
                subject="Private matter",
                message_id="<private@acme.example>",
                email_from="alice.martin@acme.example",
                cc="bob@prospect.example",
            )
        )
        self.fetch()
        log = self.logs()
        self.assertEqual(log.state, "discarded")
        self.assertIn("excluded from email import", log.reason)
        self.assertIn("bob@prospect.example", log.reason)
        self.assertFalse(self.tickets("Private matter"))
        self.assertFalse(
            self.env["mail.message"].search([("message_id", "=", "<private@acme.example>")])
        )
        self.alice.invalidate_recordset()
        self.assertEqual(self.alice.mail_converter_email_count, 0)

    def test_shared_address_told_apart_by_display_name(self):
        Partner = self.env["res.partner"]
        john = Partner.create({"name": "John Smith", "email": "family@home.example"})
        jane = Partner.create({"name": "Jane Smith", "email": "family@home.example"})
        self.append(
            make_email(subject="From Jane", email_from='"Smith, Jane" <family@home.example>')
        )
        self.append(make_email(subject="From them", email_from="The Smiths <family@home.example>"))
        self.fetch()
        from_jane = self.logs(subject="From Jane")
        partners = from_jane.link_ids.filtered(lambda link: link.model == "res.partner").mapped(
            "res_id"
        )
        self.assertEqual(partners, [jane.id])
        self.assertFalse(from_jane.reason)
        self.assertEqual(self.env["helpdesk.ticket"].browse(from_jane.res_id).partner_id, jane)
        from_them = self.logs(subject="From them")
        partners = from_them.link_ids.filtered(lambda link: link.model == "res.partner").mapped(
            "res_id"
        )
        self.assertEqual(sorted(partners), sorted([john.id, jane.id]))
        self.assertIn("Several contacts share family@home.example", from_them.reason)

    def test_email_indexes_exist(self):
        self.env.cr.execute("""SELECT tablename FROM pg_indexes
                                WHERE indexname LIKE '%%email_normalized_mail_converter_index'""")
        self.assertEqual(sorted(r[0] for r in self.env.cr.fetchall()), ["crm_lead", "res_partner"])

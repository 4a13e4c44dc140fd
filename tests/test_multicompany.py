"""Two companies whose mail stays apart (C5, issue 9): matching, exactly-once, tags and access."""

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import MailConverterCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestMultiCompany(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Beta Ltd"})
        cls.server_b = cls.make_server(user="sales", company_id=cls.company_b.id)
        cls.server.company_id = cls.company_a
        Partner = cls.env["res.partner"]
        # The same customer address is a contact in each company.
        cls.carla_a = Partner.create(
            {"name": "Carla", "email": "carla@customer.example", "company_id": cls.company_a.id}
        )
        cls.carla_b = Partner.create(
            {"name": "Carla", "email": "carla@customer.example", "company_id": cls.company_b.id}
        )
        groups = (
            "base.group_user,helpdesk_mgmt.group_helpdesk_user,"
            "mail_converter.group_mail_converter_manager"
        )
        cls.user_a = new_test_user(
            cls.env,
            "mc_user_a",
            groups=groups,
            company_id=cls.company_a.id,
            company_ids=[fields.Command.set(cls.company_a.ids)],
        )
        cls.user_b = new_test_user(
            cls.env,
            "mc_user_b",
            groups=groups,
            company_id=cls.company_b.id,
            company_ids=[fields.Command.set(cls.company_b.ids)],
        )

    def _fetch_both(self):
        self.fetch(self.server)
        self.fetch(self.server_b)

    def test_same_email_converted_once_per_company(self):
        raw = make_email(
            subject="Both companies",
            email_from="Carla <carla@customer.example>",
            message_id="<both@customer.example>",
        )
        self.append(raw, user="support")
        self.append(raw, user="sales")
        self._fetch_both()
        # A refetch is still exactly once in each company.
        self._fetch_both()
        log_a, log_b = self.logs(self.server), self.logs(self.server_b)
        self.assertRecordValues(
            log_a + log_b,
            [
                {"state": "done", "company_id": self.company_a.id, "model": "helpdesk.ticket"},
                {"state": "done", "company_id": self.company_b.id, "model": "helpdesk.ticket"},
            ],
        )
        ticket_a = self.env["helpdesk.ticket"].browse(log_a.res_id)
        ticket_b = self.env["helpdesk.ticket"].browse(log_b.res_id)
        self.assertNotEqual(ticket_a, ticket_b)
        self.assertEqual(ticket_a.company_id, self.company_a)
        self.assertEqual(ticket_b.company_id, self.company_b)
        # Each company's contact only: the other company's namesake is not matched.
        self.assertEqual(ticket_a.partner_id, self.carla_a)
        self.assertEqual(ticket_b.partner_id, self.carla_b)
        filed_a = {(x.model, x.res_id) for x in log_a.link_ids}
        filed_b = {(x.model, x.res_id) for x in log_b.link_ids}
        self.assertNotIn(("res.partner", self.carla_b.id), filed_a)
        self.assertNotIn(("res.partner", self.carla_a.id), filed_b)

        # Each company's people see their own mail only.
        Log = self.env["mail.converter.log"]
        self.assertEqual(
            Log.with_user(self.user_a).search([("id", "in", (log_a | log_b).ids)]), log_a
        )
        self.assertEqual(
            Log.with_user(self.user_b).search([("id", "in", (log_a | log_b).ids)]), log_b
        )
        Link = self.env["mail.converter.link"].with_user(self.user_b)
        self.assertFalse(Link.search([("log_id", "=", log_a.id)]))
        with self.assertRaises(AccessError):
            log_a.with_user(self.user_b).read(["subject"])
        with self.assertRaises(AccessError):
            ticket_a.with_user(self.user_b).read(["name"])
        Folder = self.env["mail.converter.folder"].with_user(self.user_b)
        self.assertEqual(Folder.search([]), self.server_b.converter_folder_ids)
        Server = self.env["fetchmail.server"].with_user(self.user_b)
        self.assertEqual(Server.search([("use_converter", "=", True)]), self.server_b)

    def test_contacts_it_creates_belong_to_the_mailbox_company(self):
        self.append(
            make_email(subject="New here", email_from="Nina <nina@newcustomer.example>"),
            user="sales",
        )
        self.fetch(self.server_b)
        log = self.logs(self.server_b)
        self.assertEqual(log.state, "done", log.reason or log.error)
        nina = self.env["res.partner"].search([("email", "=", "nina@newcustomer.example")])
        self.assertRecordValues(
            nina, [{"mail_converter_created": True, "company_id": self.company_b.id}]
        )
        Partner = self.env["res.partner"]
        self.assertFalse(Partner.with_user(self.user_a).search([("id", "=", nina.id)]))
        self.assertEqual(Partner.with_user(self.user_b).search([("id", "=", nina.id)]), nina)

    def test_tags_and_rules_stay_within_the_company(self):
        ticket_a = self.env["helpdesk.ticket"].create(
            {"name": "Printer A", "description": "x", "partner_id": self.carla_a.id}
        )
        self.assertEqual(ticket_a.company_id, self.company_a)
        Rule = self.env["mail.converter.rule"]
        Rule.search([]).action_archive()
        rule_a = Rule.create(
            {"name": "A tickets", "action": "ticket", "company_id": self.company_a.id}
        )
        rule_b = Rule.with_company(self.company_b).create({"name": "B tickets", "action": "ticket"})
        self.assertEqual(rule_b.company_id, self.company_b)
        # Carla writes to company B quoting company A's ticket number.
        self.append(
            make_email(
                subject=f"Question [{ticket_a.number}]",
                email_from="carla@customer.example",
                message_id="<tag-b@customer.example>",
            ),
            user="sales",
        )
        self.fetch(self.server_b)
        log = self.logs(self.server_b)
        self.assertEqual(log.state, "done")
        self.assertEqual(log.rule_id, rule_b, "company A's rule does not read company B's mail")
        self.assertNotEqual((log.model, log.res_id), ("helpdesk.ticket", ticket_a.id))
        self.assertNotIn("<tag-b@customer.example>", ticket_a.message_ids.mapped("message_id"))
        self.assertEqual(self.env["helpdesk.ticket"].browse(log.res_id).company_id, self.company_b)
        self.assertEqual(self.env["mail.converter.rule"].with_user(self.user_b).search([]), rule_b)
        self.assertNotIn(rule_a, self.env["mail.converter.rule"].with_user(self.user_b).search([]))

    def test_odoo_bounce_counts_in_the_sent_message_company_only(self):
        """Odoo's own bounce handling (its bounce alias, or a report the converter confirmed)
        counts the bounce on the sent message's company's contact only, never on another
        company's namesake nor on an internal user's partner."""
        staff = new_test_user(
            self.env, "mc_bounce_staff", name="Carla Staff", email="carla@customer.example"
        )
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Invoice question", "description": "x", "partner_id": self.carla_a.id}
        )
        self.assertEqual(ticket.company_id, self.company_a)
        sent = ticket.message_post(
            body="Our answer",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=self.carla_a.ids,
        )
        report = (
            "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
            "To: bounce@company.example\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <odoo-bounce-1@mx.customer.example>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
            "Final-Recipient: rfc822; carla@customer.example\r\nAction: failed\r\n"
            "Status: 5.1.1\r\n\r\n"
            "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: support@company.example\r\nSubject: Re: Invoice question\r\n"
            f"Message-ID: {sent.message_id}\r\n"
            "--B--\r\n"
        )
        self.env["mail.thread"].message_process(False, report)
        self.assertEqual(self.carla_a.message_bounce, 1)
        self.assertEqual(self.carla_b.message_bounce, 0)
        self.assertEqual(staff.partner_id.message_bounce, 0)


@tagged("post_install", "-at_install", "mail_converter")
class TestMultiCompanyConfiguration(MailConverterCase):
    """Rules, conditions and tags belong to a company; replies and new leads stay in it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        Company = cls.env["res.company"]
        cls.company_a = Company.create({"name": "Alpha Ltd"})
        cls.company_b = Company.create({"name": "Beta Ltd"})
        cls.server.company_id = cls.company_a
        cls.server_b = cls.make_server(user="sales", company_id=cls.company_b.id)
        Partner = cls.env["res.partner"]
        cls.karl_a = Partner.create(
            {"name": "Karl", "email": "karl@customer.example", "company_id": cls.company_a.id}
        )
        cls.karl_b = Partner.create(
            {"name": "Karl", "email": "karl@customer.example", "company_id": cls.company_b.id}
        )
        cls.user_a = new_test_user(
            cls.env,
            "mc_alpha",
            groups="base.group_user,mail_converter.group_mail_converter_manager",
            company_id=cls.company_a.id,
            company_ids=[fields.Command.set(cls.company_a.ids)],
        )
        # Beta's rule makes leads; it must not apply to Alpha's mailbox, nor be seen there.
        cls.rule_b = cls.env["mail.converter.rule"].create(
            {
                "name": "Beta: everything is a lead",
                "action": "lead",
                "company_id": cls.company_b.id,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "contains", "value": "order"}
                    )
                ],
            }
        )

    def test_configuration_belongs_to_its_company(self):
        env_a = self.env(user=self.user_a)
        self.assertNotIn(self.rule_b, env_a["mail.converter.rule"].search([]))
        with self.assertRaises(AccessError):
            self.rule_b.condition_ids.with_user(self.user_a).check_access("read")
        # What a company's administrator creates is their company's.
        rule = env_a["mail.converter.rule"].create({"name": "Alpha rule", "action": "ticket"})
        self.assertEqual(rule.company_id, self.company_a)
        # A rule reads its own company's mailboxes only.
        with self.assertRaises(UserError):
            rule.sudo().server_ids = self.server_b
        tag_b = self.env["mail.converter.tag"].create(
            {
                "name": "Beta case",
                "regex": r"\[BC(\d+)\]",
                "model_id": self.env["ir.model"]._get("crm.lead").id,
                "field_id": self.env["ir.model.fields"]._get("crm.lead", "id").id,
                "company_id": self.company_b.id,
            }
        )
        self.assertNotIn(tag_b, env_a["mail.converter.tag"].search([]))
        # The ticket-number tag shipped with the module serves every company.
        shipped = self.env.ref("mail_converter.tag_helpdesk_ticket_number")
        self.assertFalse(shipped.company_id)
        self.assertIn(shipped.id, env_a["mail.converter.tag"].search([]).ids)

    def test_leads_and_replies_stay_within_the_company(self):
        raw = make_email(
            subject="Order 1234 is late",
            email_from="Karl <karl@customer.example>",
            message_id="<order-1234@customer.example>",
        )
        self.append(raw, user="support")
        self.append(raw, user="sales")
        self.fetch(self.server)
        self.fetch(self.server_b)
        log_a, log_b = self.logs(self.server), self.logs(self.server_b)
        self.assertEqual((log_a.model, log_a.rule_id), ("helpdesk.ticket", self.rule_b.browse()))
        self.assertEqual((log_b.model, log_b.rule_id), ("crm.lead", self.rule_b))
        lead = self.env["crm.lead"].browse(log_b.res_id)
        self.assertRecordValues(
            lead, [{"company_id": self.company_b.id, "partner_id": self.karl_b.id}]
        )
        # Karl answers Beta's message through Alpha's mailbox: not filed on Beta's lead.
        sent_b = lead.message_post(
            body="Beta's answer", message_type="comment", partner_ids=self.karl_b.ids
        )
        self.append(
            make_email(
                subject="Re: Order 1234",
                email_from="karl@customer.example",
                message_id="<reply-a@customer.example>",
                headers={"In-Reply-To": sent_b.message_id},
            ),
            user="support",
        )
        self.fetch(self.server)
        reply = self.logs(self.server, message_id="<reply-a@customer.example>")
        self.assertEqual(reply.state, "done")
        self.assertNotEqual((reply.model, reply.res_id), ("crm.lead", lead.id))
        self.assertEqual(self.env[reply.model].browse(reply.res_id).company_id, self.company_a)

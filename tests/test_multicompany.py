"""Two companies, two mailboxes: each company's mail stays its own (C5, multi-company)."""

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import MailConverterCase, make_email

GROUPS = (
    "base.group_user,helpdesk_mgmt.group_helpdesk_user,"
    "sales_team.group_sale_salesman_all_leads,mail_converter.group_mail_converter_manager"
)


@tagged("post_install", "-at_install", "mail_converter")
class TestMultiCompany(MailConverterCase):
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
        # The same customer is a contact of each company, with the same address.
        cls.karl_a = Partner.create(
            {
                "name": "Karl Customer",
                "email": "karl@customer.example",
                "company_id": cls.company_a.id,
            }
        )
        cls.karl_b = Partner.create(
            {
                "name": "Karl Customer",
                "email": "karl@customer.example",
                "company_id": cls.company_b.id,
            }
        )
        cls.user_a = new_test_user(
            cls.env,
            "mc_alpha",
            groups=GROUPS,
            company_id=cls.company_a.id,
            company_ids=[fields.Command.set(cls.company_a.ids)],
        )
        cls.user_b = new_test_user(
            cls.env,
            "mc_beta",
            groups=GROUPS,
            company_id=cls.company_b.id,
            company_ids=[fields.Command.set(cls.company_b.ids)],
        )
        # Beta's rule makes leads; it must not apply to Alpha's mailbox, nor be seen there.
        cls.rule_b = cls.env["mail.converter.rule"].create(
            {"name": "Beta: everything is a lead", "action": "lead", "company_id": cls.company_b.id}
        )

    def _both(self, raw):
        self.append(raw, user="support")
        self.append(raw, user="sales")
        self.fetch(self.server)
        self.fetch(self.server_b)

    def test_same_email_converted_once_per_company_and_kept_apart(self):
        raw = make_email(
            subject="Order 1234 is late",
            email_from="Karl <karl@customer.example>",
            message_id="<order-1234@customer.example>",
        )
        self._both(raw)
        log_a, log_b = self.logs(self.server), self.logs(self.server_b)
        self.assertRecordValues(
            log_a + log_b,
            [
                {"state": "done", "company_id": self.company_a.id, "model": "helpdesk.ticket"},
                {"state": "done", "company_id": self.company_b.id, "model": "crm.lead"},
            ],
        )
        ticket = self.env["helpdesk.ticket"].browse(log_a.res_id)
        lead = self.env["crm.lead"].browse(log_b.res_id)
        self.assertRecordValues(
            ticket, [{"company_id": self.company_a.id, "partner_id": self.karl_a.id}]
        )
        self.assertRecordValues(
            lead, [{"company_id": self.company_b.id, "partner_id": self.karl_b.id}]
        )
        filed_a = {(lk.model, lk.res_id) for lk in log_a.link_ids}
        filed_b = {(lk.model, lk.res_id) for lk in log_b.link_ids}
        self.assertIn(("res.partner", self.karl_a.id), filed_a)
        self.assertNotIn(("res.partner", self.karl_b.id), filed_a)
        self.assertIn(("res.partner", self.karl_b.id), filed_b)
        self.assertNotIn(("res.partner", self.karl_a.id), filed_b)
        self.assertEqual(self.karl_a.mail_converter_email_count, 1)
        self.assertEqual(self.karl_b.mail_converter_email_count, 1)

        # A second copy in Alpha's mailbox is still a duplicate there.
        self.append(raw, user="support")
        self.fetch(self.server)
        self.assertEqual(sorted(self.logs(self.server).mapped("state")), ["done", "duplicate"])

        # Each company's user sees its own records and log, and nothing of the other's.
        for user, own, other in (
            (self.user_a, (ticket, log_a, self.karl_a), (lead, log_b, self.karl_b)),
            (self.user_b, (lead, log_b, self.karl_b), (ticket, log_a, self.karl_a)),
        ):
            env = self.env(user=user)
            Log = env["mail.converter.log"]
            self.assertEqual(
                Log.search([("message_id", "=", "<order-1234@customer.example>")]).company_id,
                user.company_id,
                user.login,
            )
            self.assertFalse(env["mail.converter.link"].search([("log_id", "in", other[1].ids)]))
            self.assertTrue(env["mail.converter.link"].search([("log_id", "in", own[1].ids)]))
            for record in own:
                record.with_user(user).check_access("read")
            for record in other:
                with self.assertRaises(AccessError, msg=f"{user.login} reads {record}"):
                    record.with_user(user).check_access("read")
            self.assertEqual(
                env["res.partner"].search([("email", "=", "karl@customer.example")]),
                own[2].with_env(env),
            )

    def test_configuration_belongs_to_its_company(self):
        env_a = self.env(user=self.user_a)
        admin_a = new_test_user(
            self.env,
            "mc_alpha_admin",
            groups="base.group_user,base.group_system",
            company_id=self.company_a.id,
            company_ids=[fields.Command.set(self.company_a.ids)],
        )
        self.assertEqual(
            self.env["fetchmail.server"].with_user(admin_a).search([("use_converter", "=", True)]),
            self.server,
        )
        self.assertEqual(
            env_a["mail.converter.folder"].search([]),
            self.server.converter_folder_ids.with_env(env_a),
        )
        self.assertNotIn(self.rule_b.id, env_a["mail.converter.rule"].search([]).ids)
        with self.assertRaises(AccessError):
            self.server_b.converter_folder_ids.with_user(self.user_a).check_access("read")
        condition_b = self.env["mail.converter.rule.condition"].create(
            {"rule_id": self.rule_b.id, "field": "subject", "operator": "contains", "value": "x"}
        )
        with self.assertRaises(AccessError):
            condition_b.with_user(self.user_a).check_access("read")
        # A rule and a tag created by a company's administrator belong to that company.
        rule = env_a["mail.converter.rule"].create({"name": "Alpha rule", "action": "ticket"})
        self.assertEqual(rule.company_id, self.company_a)
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
        # The ticket number tag shipped with the module serves every company.
        shipped = self.env.ref("mail_converter.tag_helpdesk_ticket_number")
        self.assertFalse(shipped.company_id)
        self.assertIn(shipped.id, env_a["mail.converter.tag"].search([]).ids)

    def test_tags_and_replies_stay_within_the_company(self):
        self.rule_b.active = False
        ticket_b = self.env["helpdesk.ticket"].create(
            {
                "name": "Beta ticket",
                "description": "x",
                "partner_id": self.karl_b.id,
                "company_id": self.company_b.id,
            }
        )
        sent_b = ticket_b.message_post(
            body="Beta's answer", message_type="comment", partner_ids=self.karl_b.ids
        )
        # Karl writes to Alpha quoting Beta's ticket: Alpha does not file it on Beta's ticket.
        self.append(
            make_email(
                subject=f"[{ticket_b.number}] wrong company",
                email_from="karl@customer.example",
                headers={"In-Reply-To": sent_b.message_id},
            ),
            user="support",
        )
        self.fetch(self.server)
        log = self.logs(self.server)
        self.assertEqual(log.state, "done")
        self.assertNotEqual((log.model, log.res_id), ("helpdesk.ticket", ticket_b.id))
        self.assertEqual(self.env[log.model].browse(log.res_id).company_id, self.company_a)
        self.assertNotIn(
            ("helpdesk.ticket", ticket_b.id), [(lk.model, lk.res_id) for lk in log.link_ids]
        )
        # Through Beta's own mailbox, the same tag finds the ticket.
        self.append(
            make_email(
                subject=f"[{ticket_b.number}] right company", email_from="karl@customer.example"
            ),
            user="sales",
        )
        self.fetch(self.server_b)
        self.assertRecordValues(
            self.logs(self.server_b), [{"model": "helpdesk.ticket", "res_id": ticket_b.id}]
        )

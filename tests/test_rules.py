from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import MailConverterCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestRules(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        cls.vip_team = cls.env["helpdesk.ticket.team"].create({"name": "VIP team"})
        cls.source = cls.env["utm.source"].create({"name": "Email quotes"})
        cls.customer = cls.env["res.partner"].create(
            {"name": "Karl Customer", "email": "karl@customer.example"}
        )
        Rule = cls.env["mail.converter.rule"]

        def rule(name, action, conditions, **values):
            return Rule.create(
                dict(
                    name=name,
                    action=action,
                    condition_ids=[
                        fields.Command.create(
                            dict(zip(("field", "operator", "value"), c, strict=True))
                        )
                        for c in conditions
                    ],
                    **values,
                )
            )

        cls.rule_ooo = rule(
            "Out of office", "discard", [("subject", "contains", "out of office")], sequence=1
        )
        cls.rule_update = rule(
            "Ticket replies", "ticket_update", [("subject", "regex", r"\[HT\d+\]")], sequence=2
        )
        cls.rule_vip = rule(
            "VIP",
            "ticket",
            [("from", "ends_with", "@vip.example")],
            sequence=3,
            team_id=cls.vip_team.id,
            priority="3",
            private=True,
        )
        cls.rule_quote = rule(
            "Quotes",
            "lead",
            [("subject", "contains", "quote"), ("body", "contains", "quote")],
            sequence=4,
            match="any",
            lead_source_id=cls.source.id,
            lead_type="opportunity",
        )
        cls.rule_followup = rule(
            "Customer follow-up", "activity", [("subject", "starts_with", "follow-up")], sequence=5
        )
        cls.rule_elsewhere = rule(
            "Other mailbox only",
            "discard",
            [("subject", "contains", "elsewhere")],
            sequence=6,
            server_ids=[
                fields.Command.create(
                    {"name": "other", "server_type": "imap", "use_converter": True}
                )
            ],
        )

    def _log(self, subject):
        return self.logs(subject=subject)

    def test_discard_still_finishes_on_server(self):
        self.server.converter_folder_ids.after_action = "seen"
        uid = self.append(make_email(subject="Out of Office: back Monday"))
        self.fetch()
        log = self._log("Out of Office: back Monday")
        self.assertRecordValues(log, [{"state": "discarded", "rule_id": self.rule_ooo.id}])
        self.assertIn("Out of office: MATCHED", log.rule_trace)
        self.assertFalse(self.tickets("Out of Office: back Monday"))
        self.assertIn("\\Seen", self.server_flags()[uid])

    def test_vip_ticket_private_and_lead_with_defaults(self):
        self.append(make_email(subject="Help!", email_from="Boss <boss@vip.example>"))
        self.append(
            make_email(subject="Price request", body="Could you send a quote for 40 seats?")
        )
        self.fetch()
        # Private: the ticket is not named after the email's subject.
        ticket = self.env["helpdesk.ticket"].browse(self._log("Help!").res_id)
        self.assertRecordValues(
            ticket,
            [{"team_id": self.vip_team.id, "priority": "3", "name": "Private email from Boss"}],
        )
        self.assertEqual(
            ticket.channel_id, self.env.ref("helpdesk_mgmt.helpdesk_ticket_channel_email")
        )
        self.assertTrue(self._log("Help!").mail_message_id.mail_converter_private)
        lead = self.env["crm.lead"].browse(self._log("Price request").res_id)
        self.assertEqual(self._log("Price request").model, "crm.lead")
        self.assertRecordValues(
            lead, [{"name": "Price request", "source_id": self.source.id, "type": "opportunity"}]
        )
        self.assertFalse(self._log("Price request").mail_message_id.mail_converter_private)

    def test_ticket_update_by_tag(self):
        agent = self.env["res.users"].create(
            {
                "name": "Agent",
                "login": "agent-rules@company.example",
                "email": "agent-rules@company.example",
            }
        )
        # Alice's ticket: her tag is trusted (a stranger's is not: test_trust).
        alice = self.env["res.partner"].create({"name": "Alice", "email": "alice@customer.example"})
        ticket = self.env["helpdesk.ticket"].create(
            {
                "name": "Broken printer",
                "description": "x",
                "user_id": agent.id,
                "partner_id": alice.id,
            }
        )
        self.append(
            make_email(
                subject=f"Still broken [{ticket.number}]", message_id="<again@customer.example>"
            )
        )
        self.append(make_email(subject="Something new [HT99999]"))
        self.fetch()
        self.assertRecordValues(
            self._log(f"Still broken [{ticket.number}]"),
            [{"model": "helpdesk.ticket", "res_id": ticket.id, "rule_id": self.rule_update.id}],
        )
        self.assertIn("<again@customer.example>", ticket.message_ids.mapped("message_id"))
        # The follow-up is unread for the ticket's assignee (in their Odoo inbox).
        followup = self._log(f"Still broken [{ticket.number}]").mail_message_id
        self.assertIn(
            agent.partner_id,
            followup.notification_ids.filtered(lambda n: not n.is_read).res_partner_id,
        )
        self.assertEqual(
            len(self.tickets("Something new [HT99999]")), 1, "no ticket found: one is created"
        )

    def test_activity_for_customers_else_lead(self):
        self.append(
            make_email(subject="Follow-up on our call", email_from="Karl <karl@customer.example>")
        )
        self.append(
            make_email(subject="Follow-up from a stranger", email_from="new@prospect.example")
        )
        self.fetch()
        self.assertRecordValues(
            self._log("Follow-up on our call"),
            [{"model": "res.partner", "res_id": self.customer.id}],
        )
        activity = self.customer.activity_ids
        self.assertEqual(activity.summary, "Follow-up on our call")
        self.assertEqual(self._log("Follow-up from a stranger").model, "crm.lead")

    def test_no_rule_matching_creates_the_mailbox_record(self):
        """No rule decides: the mailbox's *Create a New Record* applies, as without rules."""
        self.append(make_email(subject="Just a note", email_from="Karl <karl@customer.example>"))
        self.append(make_email(subject="Nobody knows me", email_from="who@nowhere.example"))
        self.append(make_email(subject="Sent elsewhere", email_from="Karl <karl@customer.example>"))
        self.fetch()
        note = self._log("Just a note")
        self.assertRecordValues(
            note, [{"state": "done", "model": "helpdesk.ticket", "rule_id": False}]
        )
        self.assertEqual(self.tickets("Just a note").partner_id, self.customer)
        self.assertEqual(self._log("Nobody knows me").model, "helpdesk.ticket")
        self.assertNotIn("Other mailbox only", self._log("Sent elsewhere").rule_trace)
        self.assertEqual(
            self._log("Sent elsewhere").state, "done", "a rule of another mailbox does not apply"
        )

    def test_no_rule_matching_only_files_without_a_mailbox_record(self):
        self.server.object_id = False
        self.append(make_email(subject="Just a note", email_from="Karl <karl@customer.example>"))
        self.append(make_email(subject="Nobody knows me", email_from="who@nowhere.example"))
        self.fetch()
        self.assertRecordValues(
            self._log("Just a note"),
            [{"state": "done", "model": "res.partner", "res_id": self.customer.id}],
        )
        self.assertFalse(self.tickets("Just a note"))
        self.assertEqual(self._log("Nobody knows me").state, "discarded")

    def test_invalid_regex_refused(self):
        with (
            self.assertRaisesRegex(ValidationError, "Invalid regular expression"),
            self.env.cr.savepoint(),
        ):
            self.rule_ooo.condition_ids = [
                fields.Command.create(
                    {"field": "subject", "operator": "regex", "value": "[unclosed"}
                )
            ]
        # RE2 runs patterns in linear time and refuses what it cannot (back-references).
        with self.assertRaisesRegex(ValidationError, "back-references"), self.env.cr.savepoint():
            self.rule_ooo.condition_ids = [
                fields.Command.create({"field": "body", "operator": "regex", "value": r"(\w+)\s\1"})
            ]
        with self.assertRaisesRegex(ValidationError, "header"), self.env.cr.savepoint():
            self.rule_ooo.condition_ids = [
                fields.Command.create({"field": "header", "operator": "contains", "value": "x"})
            ]


@tagged("post_install", "-at_install", "mail_converter")
class TestSimulator(MailConverterCase):
    def test_simulator_predicts_without_writing(self):
        self.env["mail.converter.rule"].search([]).action_archive()
        team = self.env["helpdesk.ticket.team"].create({"name": "VIP team"})
        self.env["mail.converter.rule"].create(
            {
                "name": "VIP",
                "action": "ticket",
                "team_id": team.id,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "from", "operator": "ends_with", "value": "@vip.example"}
                    )
                ],
            }
        )
        customer = self.env["res.partner"].create({"name": "Vera VIP", "email": "vera@vip.example"})
        raw = make_email(subject="Simulated", email_from="Vera <vera@vip.example>")
        counts = (
            self.env["helpdesk.ticket"].search_count([]),
            self.env["mail.message"].search_count([]),
            self.env["mail.converter.log"].search_count([]),
        )
        wizard = self.env["mail.converter.simulator"].create(
            {"server_id": self.server.id, "eml_text": raw.decode()}
        )
        wizard.action_simulate()
        self.assertEqual(wizard.outcome, "Create a new Helpdesk Ticket (rule VIP)")
        self.assertIn("VIP: MATCHED", wizard.verdicts_html)
        self.assertIn("vera@vip.example", wizard.addresses_html)
        self.assertIn(customer.name, wizard.matches_html)
        self.assertEqual(
            counts,
            (
                self.env["helpdesk.ticket"].search_count([]),
                self.env["mail.message"].search_count([]),
                self.env["mail.converter.log"].search_count([]),
            ),
        )
        # ... and the pipeline then does what it said.
        self.append(raw)
        self.fetch()
        self.assertRecordValues(self.tickets("Simulated"), [{"team_id": team.id}])

        ticket = self.tickets("Simulated")
        wizard.eml_text = make_email(
            subject="Re: Simulated",
            email_from="Vera <vera@vip.example>",  # her own ticket: trusted (test_trust)
            headers={"In-Reply-To": ticket.message_ids[-1].message_id},
        ).decode()
        wizard.action_simulate()
        self.assertIn(f"File on Helpdesk Ticket {ticket.display_name}", wizard.outcome)


@tagged("post_install", "-at_install", "mail_converter")
class TestRuleActionsMore(MailConverterCase):
    def test_link_action_and_reply_headers_update(self):
        self.env["mail.converter.rule"].search([]).action_archive()
        Rule = self.env["mail.converter.rule"]
        Rule.create(
            {
                "name": "Updates",
                "action": "ticket_update",
                "sequence": 1,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "starts_with", "value": "re:"}
                    )
                ],
            }
        )
        Rule.create(
            {
                "name": "Partners only",
                "action": "link",
                "sequence": 2,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "from", "operator": "ends_with", "value": "@partner.example"}
                    )
                ],
            }
        )
        partner = self.env["res.partner"].create(
            {"name": "Paula Partner", "email": "paula@partner.example"}
        )
        # Alice's ticket: her reply is trusted (a stranger's is not: test_trust).
        alice = self.env["res.partner"].create({"name": "Alice", "email": "alice@customer.example"})
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Question", "description": "x", "partner_id": alice.id}
        )
        original = ticket.message_post(body="Our answer", message_type="comment")
        self.append(
            make_email(subject="Re: Question", headers={"In-Reply-To": original.message_id})
        )
        self.append(make_email(subject="Newsletter", email_from="Paula <paula@partner.example>"))
        self.fetch()
        self.assertRecordValues(
            self.logs(subject="Re: Question"), [{"model": "helpdesk.ticket", "res_id": ticket.id}]
        )
        newsletter = self.logs(subject="Newsletter")
        self.assertRecordValues(
            newsletter, [{"state": "done", "model": "res.partner", "res_id": partner.id}]
        )
        self.assertFalse(self.tickets("Newsletter"))
        self.assertIn("Partners only: MATCHED", newsletter.rule_trace)

    def test_flag_rule_marks_private_and_lets_the_next_rule_decide(self):
        self.env["mail.converter.rule"].search([]).action_archive()
        Rule = self.env["mail.converter.rule"]
        Rule.create(
            {
                "name": "Confidential",
                "action": "link",
                "private": True,
                "stop": False,
                "sequence": 1,
                "condition_ids": [
                    fields.Command.create(
                        {
                            "field": "header",
                            "header_name": "Sensitivity",
                            "operator": "equals",
                            "value": "private",
                        }
                    )
                ],
            }
        )
        Rule.create({"name": "Tickets", "action": "ticket", "sequence": 2})
        self.append(make_email(subject="Personal matter", headers={"Sensitivity": "Private"}))
        self.append(make_email(subject="Normal matter"))
        self.fetch()
        secret = self.logs(subject="Personal matter")
        self.assertEqual(secret.rule_id.name, "Tickets")
        self.assertEqual(secret.model, "helpdesk.ticket")
        self.assertFalse(self.tickets("Personal matter"), "a private email names no ticket")
        self.assertTrue(secret.mail_message_id.mail_converter_private)
        self.assertFalse(self.logs(subject="Normal matter").mail_message_id.mail_converter_private)

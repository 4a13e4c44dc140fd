"""One decision path: the simulator shows the plan the pipeline then applies."""

from odoo import fields
from odoo.tests import tagged
from odoo.tools import SQL

from .common import MailConverterCase, make_email

BOUNCE = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
    b"To: support@company.example\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Message-ID: <plan-bounce@mx.customer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.customer.example\r\n\r\n"
    b"Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"--B--\r\n"
)


@tagged("post_install", "-at_install", "mail_converter")
class TestNoDefaultModel(MailConverterCase):
    """A mailbox whose "Create a New Record" is empty: rules decide, the rest is filed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        cls.server.object_id = False
        cls.karl = cls.env["res.partner"].create(
            {"name": "Karl Customer", "email": "karl@customer.example"}
        )
        cls.lead = cls.env["crm.lead"].create(
            {"name": "Fleet deal", "email_from": "fleet@buyer.example"}
        )

    def _rules(self):
        Rule = self.env["mail.converter.rule"]
        Rule.create(
            {
                "name": "Help",
                "action": "ticket",
                "sequence": 1,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "contains", "value": "help"}
                    )
                ],
            }
        )
        Rule.create(
            {
                "name": "Quotes",
                "action": "lead",
                "sequence": 2,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "contains", "value": "quote"}
                    )
                ],
            }
        )

    def test_without_rules_mail_is_filed_never_failed(self):
        self.append(
            make_email(subject="Hello from Karl", email_from="Karl <karl@customer.example>")
        )
        self.append(make_email(subject="About the fleet", email_from="fleet@buyer.example"))
        self.append(make_email(subject="From nobody", email_from="nobody@nowhere.example"))
        self.fetch()
        self.assertNotIn("failed", self.logs().mapped("state"))
        self.assertRecordValues(
            self.logs(subject="Hello from Karl"),
            [{"state": "done", "model": "res.partner", "res_id": self.karl.id}],
        )
        self.assertIn("Hello from Karl", self.karl.message_ids.mapped("subject"))
        self.assertRecordValues(
            self.logs(subject="About the fleet"),
            [{"state": "done", "model": "crm.lead", "res_id": self.lead.id}],
        )
        nobody = self.logs(subject="From nobody")
        self.assertRecordValues(nobody, [{"state": "discarded", "attempts": 1}])
        self.assertEqual(nobody.reason, "No destination record was found")
        self.assertFalse(
            self.env["helpdesk.ticket"].search([("name", "in", ["Hello from Karl", "From nobody"])])
        )

    def test_rules_create_tickets_and_leads(self):
        self._rules()
        # Karl's ticket: his reply continues it (a stranger's would not: test_trust).
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Older ticket", "description": "x", "partner_id": self.karl.id}
        )
        sent = ticket.message_post(body="We are on it", message_type="comment")
        self.append(make_email(subject="Please help", email_from="stranger@nowhere.example"))
        self.append(make_email(subject="Quote for 40 seats", email_from="buyer@newco.example"))
        self.append(make_email(subject="Just saying hi", email_from="Karl <karl@customer.example>"))
        self.append(
            make_email(
                subject="Re: Older ticket",
                email_from="Karl <karl@customer.example>",
                headers={"In-Reply-To": sent.message_id},
            )
        )
        self.fetch()
        self.assertNotIn("failed", self.logs().mapped("state"))
        self.assertEqual(len(self.tickets("Please help")), 1)
        self.assertEqual(self.logs(subject="Quote for 40 seats").model, "crm.lead")
        self.assertEqual(
            self.env["crm.lead"].browse(self.logs(subject="Quote for 40 seats").res_id).name,
            "Quote for 40 seats",
        )
        self.assertRecordValues(
            self.logs(subject="Just saying hi"),
            [{"state": "done", "model": "res.partner", "res_id": self.karl.id}],
        )
        self.assertRecordValues(
            self.logs(subject="Re: Older ticket"),
            [{"state": "done", "model": "helpdesk.ticket", "res_id": ticket.id}],
        )


@tagged("post_install", "-at_install", "mail_converter")
class TestSimulatorAgreesWithPipeline(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        Rule = cls.env["mail.converter.rule"]

        def rule(name, action, field, operator, value, **values):
            return Rule.create(
                dict(
                    name=name,
                    action=action,
                    condition_ids=[
                        fields.Command.create(
                            {"field": field, "operator": operator, "value": value}
                        )
                    ],
                    **values,
                )
            )

        rule("Out of office", "discard", "subject", "contains", "out of office", sequence=1)
        rule(
            "Confidential",
            "link",
            "subject",
            "contains",
            "confidential",
            sequence=2,
            private=True,
            stop=False,
        )
        rule("Help", "ticket", "subject", "contains", "help", sequence=3)
        rule("Quotes", "lead", "body", "regex", r"quote\s+for\s+\d+", sequence=4)
        rule("Follow-ups", "activity", "subject", "starts_with", "follow-up", sequence=5)
        cls.server.write(
            {
                "contact_creation_addresses": "info@company.example",
                "excluded_addresses": "ceo@company.example",
                "converter_folder_ids": [
                    fields.Command.create({"path": "Sent", "direction": "outbound"})
                ],
            }
        )
        Partner = cls.env["res.partner"]
        cls.karl = Partner.create({"name": "Karl Customer", "email": "karl@customer.example"})
        Partner.create(
            {"name": "Secret Sam", "email": "sam@secret.example", "mail_converter_exclude": True}
        )
        # Karl's ticket: his reply and his tag are trusted (only the record's people are).
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {"name": "Known issue", "description": "x", "partner_id": cls.karl.id}
        )
        cls.sent = cls.ticket.message_post(body="Working on it", message_type="comment")

    def _emails(self):
        """(label, folder, raw): a varied day of mail."""
        inbound = [
            (
                "rule ticket",
                make_email(subject="Help, my printer", email_from="stranger@nowhere.example"),
            ),
            ("rule lead", make_email(subject="Pricing", body="Please send a quote for 40 seats.")),
            ("rule discard", make_email(subject="Out of office until Monday")),
            ("private flag then ticket", make_email(subject="Confidential: help needed")),
            (
                "reply header",
                make_email(
                    subject="Re: Known issue",
                    email_from="karl@customer.example",
                    headers={"In-Reply-To": self.sent.message_id},
                ),
            ),
            (
                "ID tag",
                make_email(
                    subject=f"About [{self.ticket.number}]", email_from="karl@customer.example"
                ),
            ),
            (
                "a stranger's ID tag",
                make_email(
                    subject=f"Wire money [{self.ticket.number}]",
                    email_from="mallory@evil.example",
                ),
            ),
            (
                "activity for a customer",
                make_email(
                    subject="Follow-up on our call", email_from="Karl <karl@customer.example>"
                ),
            ),
            (
                "activity falls back to a lead",
                make_email(subject="Follow-up from a stranger", email_from="new@prospect.example"),
            ),
            ("link only", make_email(subject="Thanks!", email_from="Karl <karl@customer.example>")),
            ("nothing to file on", make_email(subject="Hi", email_from="who@nowhere.example")),
            ("excluded contact", make_email(subject="Hello", email_from="sam@secret.example")),
            ("never-import list", make_email(subject="Salaries", cc="ceo@company.example")),
            (
                "new contact for info@",
                make_email(
                    subject="Interested",
                    email_from="Nina New <nina@newco.example>",
                    to="info@company.example",
                ),
            ),
            ("bounce", BOUNCE),
        ]
        outbound = [
            (
                "sent mail to a customer",
                make_email(
                    subject="Your visit",
                    email_from="agent@company.example",
                    to="Karl <karl@customer.example>",
                ),
            ),
        ]
        return [(label, "INBOX", raw) for label, raw in inbound] + [
            (label, "Sent", raw) for label, raw in outbound
        ]

    def test_simulator_and_pipeline_agree(self):
        emails = self._emails()
        Simulator = self.env["mail.converter.simulator"]
        predicted = {}
        for label, folder, raw in emails:
            wizard = Simulator.create(
                {
                    "server_id": self.server.id,
                    "eml_text": raw.decode(),
                    "direction": "outbound" if folder == "Sent" else "inbound",
                }
            )
            wizard.action_simulate()
            predicted[label] = (wizard.plan_state, wizard.plan_route, wizard.outcome)
        # Sanity: the set covers every kind of outcome.
        self.assertEqual({p[0] for p in predicted.values()}, {"done", "discarded", "bounce"})
        self.assertEqual(predicted["rule ticket"][1], "helpdesk.ticket,new")
        self.assertEqual(predicted["reply header"][1], f"helpdesk.ticket,{self.ticket.id}")
        # No rule decides: the mailbox's Create a New Record opens a ticket (and Nina's contact).
        self.assertEqual(predicted["new contact for info@"][1], "helpdesk.ticket,new")
        stranger = predicted["a stranger's ID tag"]
        self.assertNotEqual(stranger[1], f"helpdesk.ticket,{self.ticket.id}")
        self.assertIn("does not belong to it", stranger[2])

        last_ids = {
            model: self.env[model].search([], order="id desc", limit=1).id
            for model in ("helpdesk.ticket", "crm.lead", "res.partner")
        }
        for _label, folder, raw in emails:
            self.append(raw, folder=folder)
        self.fetch()
        logs = self.logs()
        self.assertEqual(len(logs), len(emails))
        by_subject = {log.subject: log for log in logs}
        for label, _folder, raw in emails:
            subject = raw.split(b"Subject: ", 1)[1].split(b"\n", 1)[0].strip().decode()
            log = by_subject[subject]
            state, route, outcome = predicted[label]
            if log.model and log.res_id > last_ids.get(log.model, 0):
                created = (
                    "new:" + self.env[log.model].browse(log.res_id).email_normalized
                    if log.model == "res.partner"
                    else "new"
                )
                actual_route = f"{log.model},{created}"
            else:
                actual_route = f"{log.model},{log.res_id}" if log.model else False
            self.assertEqual(
                (log.state, actual_route or False),
                (state, route or False),
                f"{label}: simulator said {outcome!r}, pipeline logged {log.state} {log.reason}",
            )
            if "marked private" in outcome:
                self.assertTrue(log.mail_message_id.mail_converter_private, label)


def simulate(case, raw, server=None, direction="inbound"):
    """Run the simulator on ``raw`` as an admin does; return the wizard."""
    wizard = case.env["mail.converter.simulator"].create(
        {"server_id": (server or case.server).id, "eml_text": raw.decode(), "direction": direction}
    )
    wizard.action_simulate()
    return wizard


@tagged("post_install", "-at_install", "mail_converter")
class TestPlanningWritesNothing(MailConverterCase):
    """Planning is pure: no record, no mail, no bus message, even for the decisions that
    make the pipeline write (a loop notice, a bounce, a BCC refusal, an acknowledgement)."""

    def _sequences(self):
        """The id sequences of what planning could create: a value taken is never given back,
        even by the simulator's rollback."""
        self.env.flush_all()
        values = {}
        for table in ("mail_mail", "mail_message", "bus_bus", "res_partner", "crm_lead"):
            self.env.cr.execute(
                SQL("SELECT last_value, is_called FROM %s", SQL.identifier(f"{table}_id_seq"))
            )
            values[table] = self.env.cr.fetchone()
        return values

    def test_simulating_special_decisions_writes_nothing(self):
        Param = self.env["ir.config_parameter"].sudo()
        Param.set_param("mail.gateway.loop.threshold", 2)
        loops = self.make_server(user="sales", object_id=self.env["ir.model"]._get("crm.lead").id)
        self.env["crm.lead"].create(
            [{"name": f"Looping {i}", "email_from": "robot@loop.example"} for i in range(2)]
        )
        rep = self.env["res.users"].search([("login", "=", "admin")])
        bcc = self.make_server(user="bcc", bcc_logging=True, bcc_user_ids=[(6, 0, rep.ids)])
        before = self._sequences()
        loop = simulate(self, make_email(subject="Loop", email_from="robot@loop.example"), loops)
        bounce = simulate(self, BOUNCE)
        refused = simulate(
            self, make_email(subject="Not ours", email_from="stranger@else.example"), bcc
        )
        ack = simulate(self, make_email(subject="New question", email_from="new@customer.example"))
        self.assertEqual(self._sequences(), before, "nothing written, not even rolled back")
        self.assertEqual(loop.plan_state, "discarded")
        self.assertIn("Mail loop detected", loop.outcome)
        self.assertIn("loop notice is mailed to robot@loop.example", loop.stages_html)
        self.assertEqual(bounce.plan_state, "bounce")
        self.assertEqual(refused.plan_state, "rejected")
        self.assertIn("Explanation mailed to stranger@else.example", refused.outcome)
        self.assertEqual(ack.auto_reply, "Yes: Acknowledgement to new@customer.example")

        # The pipeline carries the loop notice out: Odoo's own mail to the sender.
        self.append(make_email(subject="Loop", email_from="robot@loop.example"), user="sales")
        mails = self._sequences()["mail_mail"]
        self.fetch(loops)
        self.assertEqual(self.logs(loops, subject="Loop").state, "discarded")
        self.assertGreater(self._sequences()["mail_mail"], mails, "the loop notice is sent")


@tagged("post_install", "-at_install", "mail_converter")
class TestSimulatorShowsEveryDecision(MailConverterCase):
    """Decisions once taken outside the planner are plan stages the simulator shows, and
    the pipeline does what they say."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        cls.karl = cls.env["res.partner"].create(
            {"name": "Karl Customer", "email": "karl@customer.example"}
        )
        cls.colleague = cls.env["res.users"].create(
            {"name": "Cora Colleague", "login": "cora", "email": "cora@company.example"}
        )
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {"name": "Known issue", "description": "x", "partner_id": cls.karl.id}
        )
        cls.sent = cls.ticket.message_post(body="Working on it", message_type="comment")
        cls.ticket.message_subscribe(partner_ids=cls.colleague.partner_id.ids)

    def test_duplicate(self):
        raw = make_email(subject="Twice", email_from="karl@customer.example")
        self.append(raw)
        self.fetch()
        wizard = simulate(self, raw)
        self.assertEqual(wizard.plan_state, "duplicate")
        self.assertIn("Already", wizard.outcome)
        self.assertIn("duplicate", wizard.stages_html)

    def test_size_limit(self):
        self.server.converter_max_size = 1
        raw = make_email(subject="Huge", body="x" * (1024 * 1024 + 10))
        wizard = simulate(self, raw)
        self.assertEqual(wizard.plan_state, "rejected")
        self.assertIn("Too large", wizard.outcome)
        self.append(raw)
        self.fetch()
        self.assertRecordValues(
            self.logs(subject="Huge"), [{"state": "rejected", "too_large": True}]
        )

    def test_acknowledgement_loop_guard_recount(self):
        wizard = simulate(self, make_email(subject="Question", email_from="q@customer.example"))
        self.assertIn("counted again, under a lock, when it is sent", wizard.stages_html)

    def test_activity_user_falls_back_to_the_administrator(self):
        self.env["mail.converter.rule"].create(
            {
                "name": "Calls",
                "action": "activity",
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "starts_with", "value": "call"}
                    )
                ],
            }
        )
        raw = make_email(subject="Call me", email_from="Karl <karl@customer.example>")
        wizard = simulate(self, raw)
        admin = self.env.ref("base.user_admin")
        self.assertIn(
            f"To-do for {admin.name} (nobody else: the administrator)", wizard.stages_html
        )
        self.append(raw)
        self.fetch()
        self.assertEqual(self.karl.activity_ids.user_id, admin)

    def test_a_colleagues_reply_is_not_the_customers_followup(self):
        raw = make_email(
            subject="Re: Known issue",
            email_from="Cora <cora@company.example>",
            headers={"In-Reply-To": self.sent.message_id},
        )
        wizard = simulate(self, raw)
        self.assertEqual(wizard.plan_route, f"helpdesk.ticket,{self.ticket.id}")
        self.assertIn("is a colleague: not the customer", wizard.stages_html)
        self.append(raw)
        self.fetch()
        self.assertFalse(self.ticket.mail_converter_followup)
        karl = make_email(
            subject="Re: Known issue",
            email_from="Karl <karl@customer.example>",
            headers={"In-Reply-To": self.sent.message_id},
        )
        self.assertIn("the ticket is flagged", simulate(self, karl).stages_html)
        self.append(karl)
        self.fetch()
        self.assertTrue(self.ticket.mail_converter_followup)

    def test_bounce_counter_reset_skipped(self):
        unknown = simulate(self, make_email(subject="Hi", email_from="nobody@else.example"))
        self.assertIn("no bounce count to reset", unknown.stages_html)
        known = simulate(self, make_email(subject="Hi", email_from="karl@customer.example"))
        self.assertIn("bounce count is reset", known.stages_html)

    def test_default_applies_when_no_rule_decides(self):
        """An *Only file* rule that only marks mail private, without *Stop*, leaves the
        mailbox's *Create a New Record* in charge: customers' emails still open tickets."""
        self.env["mail.converter.rule"].create(
            {
                "name": "Everything private",
                "action": "link",
                "private": True,
                "stop": False,
            }
        )
        raw = make_email(subject="Printer broken", email_from="Karl <karl@customer.example>")
        wizard = simulate(self, raw)
        self.assertEqual(wizard.plan_route, "helpdesk.ticket,new")
        self.assertIn("No rule decided", wizard.stages_html)
        self.append(raw)
        self.fetch()
        log = self.logs(subject="Printer broken")
        self.assertEqual(log.model, "helpdesk.ticket")
        # A private email does not name its ticket after its subject.
        self.assertEqual(self.env[log.model].browse(log.res_id).name, "Private email from Karl")
        self.assertTrue(log.mail_message_id.mail_converter_private)
        # Empty *Create a New Record*: only filed, and the simulator says why.
        self.server.object_id = False
        wizard = simulate(self, make_email(subject="Other", email_from="karl@customer.example"))
        self.assertEqual(wizard.plan_route, f"res.partner,{self.karl.id}")
        self.assertIn("creates no record", wizard.stages_html)

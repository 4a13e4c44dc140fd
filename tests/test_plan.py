"""One decision path: the simulator shows the plan the pipeline then applies."""

from odoo import fields
from odoo.tests import tagged

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
        self.assertEqual(
            predicted["new contact for info@"][1], "res.partner,new:nina@newco.example"
        )
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

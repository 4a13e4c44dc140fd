"""The README's *Extending* examples, each overriding one method of one small model.

An extending module writes a class with ``_inherit``; here the same methods are put
on the registry's classes for the length of a test (what ``_inherit`` does for good).
"""

from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..tools.plan import Route
from .common import MailConverterCase, make_email


def planner_class(env):
    return type(env["mail.converter.planner"])


@tagged("post_install", "-at_install", "mail_converter")
class TestExtending(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        karl = cls.env["res.partner"].create({"name": "Karl", "email": "karl@customer.example"})
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {"name": "Known issue", "description": "x", "partner_id": karl.id}
        )

    def simulate(self, raw):
        wizard = self.env["mail.converter.simulator"].create(
            {"server_id": self.server.id, "eml_text": raw.decode()}
        )
        wizard.action_simulate()
        return wizard

    def test_override_who_belongs_to_a_record(self):
        """``mail.converter.trust._converter_sender_belongs``: our partner agency's staff may
        file mail on any ticket by its tag."""
        trust = type(self.env["mail.converter.trust"])
        original = trust._converter_sender_belongs

        def _converter_sender_belongs(self, record, mail, source):
            sender = self._converter_sender(mail)
            return original(self, record, mail, source) or sender.endswith("@agency.example")

        raw = make_email(subject=f"Status [{self.ticket.number}]", email_from="ann@agency.example")
        self.assertEqual(self.simulate(raw).plan_route, "helpdesk.ticket,new", "not trusted")
        with patch.object(trust, "_converter_sender_belongs", _converter_sender_belongs):
            self.assertEqual(self.simulate(raw).plan_route, f"helpdesk.ticket,{self.ticket.id}")
            self.append(raw)
            self.fetch()
        self.assertIn(f"Status [{self.ticket.number}]", self.ticket.message_ids.mapped("subject"))

    def test_add_a_rule_action(self):
        """A rule action *Urgent ticket*: ``selection_add`` on the rule's ``action`` and
        ``mail.converter.planner._plan_rule_route``."""
        action = self.env["mail.converter.rule"]._fields["action"]
        original = planner_class(self.env)._plan_rule_route

        def _plan_rule_route(self, mail, source, plan):
            if plan.rule is not None and plan.rule.action == "urgent" and not plan.route:
                why = self.env._("Rule %(rule)s", rule=plan.rule.name)
                plan.route = Route("helpdesk.ticket", values={"priority": "3"}, why=why)
                return
            original(self, mail, source, plan)

        with (
            # what selection_add does when the extending module loads
            patch.object(action, "selection", [*action.selection, ("urgent", "Urgent ticket")]),
            patch.object(action, "_selection", {**dict(action._selection), "urgent": "Urgent"}),
            patch.object(planner_class(self.env), "_plan_rule_route", _plan_rule_route),
        ):
            self.env["mail.converter.rule"].create(
                {
                    "name": "Outage",
                    "action": "urgent",
                    "condition_ids": [
                        fields.Command.create(
                            {"field": "subject", "operator": "contains", "value": "outage"}
                        )
                    ],
                }
            )
            self.append(make_email(subject="Total outage"))
            self.fetch()
        self.assertRecordValues(self.tickets("Total outage"), [{"priority": "3"}])

    def test_add_a_kind_of_special_mail(self):
        """Read receipts (RFC 8098): a stage recognises them first, they are only logged,
        and ``_converter_describe_special`` says so."""
        Planner = planner_class(self.env)
        stages, describe = Planner._converter_plan_stages, Planner._converter_describe_special

        def _converter_plan_stages(self):
            result = stages(self)
            result.insert(result.index("_plan_bounce"), "_plan_read_receipt")
            return result

        def _plan_read_receipt(self, mail, source, plan):
            if "disposition-notification" in (mail.message.get("content-type") or ""):
                plan.kind = "read_receipt"
                plan.finish("discarded", self.env._("Read receipt: only logged"))

        def _converter_describe_special(self, plan):
            if plan.kind == "read_receipt":
                return self.env._("Read receipt: %(reason)s", reason=plan.reason)
            return describe(self, plan)

        receipt = (
            b"From: Karl <karl@customer.example>\r\nTo: support@company.example\r\n"
            b"Subject: Read: Known issue\r\nMessage-ID: <mdn-1@customer.example>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/report; "
            b'report-type=disposition-notification; boundary="R"\r\n\r\n'
            b"--R\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
            b"--R\r\nContent-Type: message/disposition-notification\r\n\r\n"
            b"Final-Recipient: rfc822; karl@customer.example\r\n"
            b"Disposition: manual-action/MDN-sent-manually; displayed\r\n--R--\r\n"
        )
        with (
            patch.object(Planner, "_converter_plan_stages", _converter_plan_stages),
            patch.object(Planner, "_plan_read_receipt", _plan_read_receipt, create=True),
            patch.object(Planner, "_converter_describe_special", _converter_describe_special),
        ):
            self.assertEqual(
                self.simulate(receipt).outcome, "Read receipt: Read receipt: only logged"
            )
            self.append(receipt)
            self.fetch()
        self.assertRecordValues(
            self.logs(subject="Read: Known issue"),
            [{"state": "discarded", "reason": "Read receipt: only logged", "kind": "mail"}],
        )

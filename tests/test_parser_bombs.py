"""Parser bombs (C11, issue 18): crafted emails are logged, never hold the mailbox back,
and the normal email after them is converted in the same batch. Against the real Dovecot."""

from types import SimpleNamespace
from unittest.mock import patch

from odoo.tests import tagged

from ..tools import budget as budget_module
from .common import MailConverterDovecotCase, make_email


def blank_line_report(size):
    """A forged delivery report whose text is ``size`` bytes of blank lines."""
    return (
        b"From: MAILER-DAEMON@x.example\r\nTo: support@company.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <report@x.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\n" + b"\n" * size + b"x\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x.example\r\n"
        b"\r\nFinal-Recipient: rfc822; nobody@unknown.example\r\nAction: failed\r\n"
        b"Status: 5.1.1\r\n\r\n--B--\r\n"
    )


def many_parts(count):
    part = b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return (
        b"From: Mallory <mallory@evil.example>\r\nTo: support@company.example\r\n"
        b"Subject: Parts\r\nMessage-ID: <parts@evil.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + part * count + b"--B--\r\n"
    )


@tagged("post_install", "-at_install", "mail_converter")
class TestParserBombs(MailConverterDovecotCase):
    def test_bombs_are_logged_and_the_normal_email_after_them_converted(self):
        self.server.converter_folder_ids.after_action = "delete"
        self.append(blank_line_report(80 * 1024))
        self.append(many_parts(30_000))
        self.append(make_email(subject="Printer on fire", message_id="<normal@customer.example>"))
        self.fetch()
        report = self.logs(message_id="<report@x.example>")
        self.assertEqual(report.state, "bounce")
        parts = self.logs(message_id="<parts@evil.example>")
        self.assertEqual(parts.state, "rejected")
        self.assertIn("Too many MIME parts: more than 1000", parts.reason)
        self.assertFalse(
            self.env["ir.attachment"].search_count(
                [("res_model", "=", "helpdesk.ticket"), ("name", "like", "Parts")]
            )
        )
        normal = self.logs(message_id="<normal@customer.example>")
        self.assertEqual(normal.state, "done")
        self.assertEqual(len(self.tickets("Printer on fire")), 1)
        # Nothing is lost: the capped email stays on the server although its folder deletes.
        self.assertEqual(len(self.server_flags()), 1)

    def test_an_email_over_its_time_budget_fails_and_the_batch_goes_on(self):
        self.server.converter_time_budget = 30
        clock = SimpleNamespace(now=0.0)
        Planner = type(self.env["mail.converter.planner"])
        plan_rules = Planner._plan_rules

        def slow_rules(planner, mail, source, plan):
            if mail.summary.subject == "Slow":
                clock.now += 31  # this email's stages took 31 s so far
            return plan_rules(planner, mail, source, plan)

        self.append(make_email(subject="Slow", message_id="<slow@customer.example>"))
        self.append(make_email(subject="Quick", message_id="<quick@customer.example>"))
        with (
            patch.object(budget_module, "time", SimpleNamespace(monotonic=lambda: clock.now)),
            patch.object(Planner, "_plan_rules", slow_rules),
        ):
            self.fetch()
        slow = self.logs(message_id="<slow@customer.example>")
        self.assertEqual(slow.state, "failed")
        stages = self.env["mail.converter.planner"]._converter_plan_stages()
        next_stage = stages[stages.index("_plan_rules") + 1]
        self.assertIn(f"Over its time budget: 31.0 s > 30 s (at {next_stage})", slow.reason)
        self.assertFalse(self.tickets("Slow"), "its work was rolled back")
        self.assertEqual(self.logs(message_id="<quick@customer.example>").state, "done")
        self.assertEqual(len(self.tickets("Quick")), 1)

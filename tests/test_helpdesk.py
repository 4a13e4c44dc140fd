"""Helpdesk workflow (C6): acknowledgements and their loop guard, bans and spam, new
tickets' contacts and responsible, follow-ups, and replies from the shared mailbox."""

import ast
import threading
from datetime import timedelta, timezone
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import BaseCase, new_test_user, tagged
from odoo.tests.common import get_db_name

from .common import (
    MailConverterCase,
    MailConverterDovecotCase,
    make_email,
    start_dovecot,
)
from .test_plan import simulate

MAILBOX = "support@company.example"


class HelpdeskMixin:
    """Users, a team and helpers shared by the memory and the Dovecot stories."""

    @classmethod
    def _setup_helpdesk(cls):
        cls.env["mail.converter.rule"].search([]).action_archive()
        cls.server.converter_email = MAILBOX
        cls.agent = new_test_user(
            cls.env,
            "mc_agent",
            name="Anna Agent",
            email="anna.agent@company.example",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_user",
        )
        cls.leader = new_test_user(
            cls.env,
            "mc_leader",
            name="Leo Leader",
            email="leo@company.example",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_user",
        )
        cls.team = cls.env["helpdesk.ticket.team"].create(
            {
                "name": "Support team",
                "user_id": cls.leader.id,
                "user_ids": [fields.Command.set([cls.agent.id, cls.leader.id])],
            }
        )
        # helpdesk_mgmt's "auto assign" gives new tickets to the current user: OdooBot in the cron.
        cls.env.company.helpdesk_mgmt_ticket_auto_assign = True

    def acks(self, email=None):
        """Acknowledgements queued through Odoo's outgoing mail (to ``email``)."""
        mails = self.env["mail.mail"].search([("model", "=", "helpdesk.ticket")], order="id")
        mails = mails.filtered(lambda m: "auto-replied" in (m.headers or ""))
        if email:
            mails = mails.filtered(
                lambda m: email in (m.email_to or "") or email in m.recipient_ids.mapped("email")
            )
        return mails

    def mails_of(self, ticket):
        return self.env["mail.mail"].search(
            [("model", "=", "helpdesk.ticket"), ("res_id", "=", ticket.id)], order="id"
        )


@tagged("post_install", "-at_install", "mail_converter")
class TestHelpdeskWorkflow(HelpdeskMixin, MailConverterCase):
    """Pipeline decisions, on the in-memory mail server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_helpdesk()

    # -- acknowledgement -------------------------------------------------------------
    def test_one_acknowledgement_with_the_ticket_number(self):
        self.append(make_email(subject="Printer on fire", message_id="<fire@customer.example>"))
        self.fetch()
        ticket = self.tickets("Printer on fire")
        ack = self.acks()
        self.assertEqual(len(ack), 1)
        self.assertEqual(ack.subject, f"[{ticket.number}] Printer on fire")
        self.assertEqual(ack.recipient_ids, ticket.partner_id)
        self.assertIn(MAILBOX, ack.email_from)
        self.assertIn(MAILBOX, ack.reply_to)
        headers = ast.literal_eval(ack.headers)
        self.assertEqual(headers["Auto-Submitted"], "auto-replied")
        self.assertEqual(headers["X-Loop"], MAILBOX)
        self.assertIn("<fire@customer.example>", ack.references)
        self.assertIn(ticket.number, ack.body_html)
        self.assertRecordValues(
            self.logs(),
            [
                {
                    "state": "done",
                    "auto_reply_state": "sent",
                    "auto_reply_to": "alice@customer.example",
                }
            ],
        )
        # The customer's reply, found by the number in the subject, is a follow-up: no new ack.
        self.append(
            make_email(subject=f"Re: [{ticket.number}] Printer on fire", body="Still burning")
        )
        self.fetch()
        self.assertEqual(len(self.tickets("Printer on fire")), 1)
        self.assertEqual(len(self.acks()), 1)
        followup = self.logs(subject=f"Re: [{ticket.number}] Printer on fire")
        self.assertRecordValues(followup, [{"res_id": ticket.id, "auto_reply_state": "not_sent"}])
        self.assertEqual(followup.auto_reply_reason, "Not a new ticket")

    def test_hourly_cap_over_all_senders_and_null_return_path(self):
        """Forged senders, each under the per-sender limit, get no backscatter past the cap."""
        self.server.auto_reply_hourly_cap = 2
        for n in range(3):
            self.append(
                make_email(
                    subject=f"Flood {n}",
                    email_from=f"victim{n}@elsewhere.example",
                    message_id=f"<flood-{n}@elsewhere.example>",
                )
            )
        self.fetch()
        self.assertEqual(len(self.acks()), 2)
        capped = self.logs(subject="Flood 2")
        self.assertEqual(capped.auto_reply_state, "not_sent")
        self.assertIn("Not sent: hourly cap", capped.auto_reply_reason)
        # RFC 3834: a null Return-Path gets no automatic reply at all.
        self.server.auto_reply_hourly_cap = 30
        self.append(
            make_email(
                subject="From a robot",
                email_from="robot@elsewhere.example",
                headers={"Return-Path": "<>"},
            )
        )
        self.fetch()
        log = self.logs(subject="From a robot")
        self.assertEqual(log.auto_reply_state, "not_sent")
        self.assertIn("Return-Path", log.auto_reply_reason)
        self.assertEqual(len(self.acks()), 2)

    def test_acknowledgement_replaces_helpdesk_creation_mail(self):
        """helpdesk_mgmt mails the first stage's template when a ticket is created with a team;
        for converted tickets the customer gets the acknowledgement only."""
        stage = self.team._get_applicable_stages()[:1]
        stage.mail_template_id = self.env.ref("helpdesk_mgmt.changed_stage_template")
        tracked = {"tracking_disable": False, "mail_notrack": False, "mail_create_nolog": False}
        customer = self.env["res.partner"].create(
            {"name": "Carl", "email": "carl@customer.example"}
        )
        # The control: outside the converter, helpdesk_mgmt sends its stage mail on creation.
        manual = (
            self.env["helpdesk.ticket"]
            .with_context(**tracked)
            .create(
                {
                    "name": "By phone",
                    "description": "x",
                    "team_id": self.team.id,
                    "partner_id": customer.id,
                }
            )
        )
        self.env.flush_all()
        self.env.cr.precommit.run()
        self.assertEqual(len(self.mails_of(manual)), 1)

        self.env["mail.converter.rule"].create(
            {"name": "Support", "action": "ticket", "team_id": self.team.id}
        )
        self.append(make_email(subject="Cannot log in", email_from="carl@customer.example"))
        self.fetch(self.server.with_context(**tracked))
        ticket = self.tickets("Cannot log in")
        self.assertEqual(ticket.stage_id, stage)
        mails = self.mails_of(ticket).filtered(lambda m: customer in m.recipient_ids)
        self.assertEqual(len(mails), 1, mails.mapped("subject"))
        self.assertEqual(mails.subject, f"[{ticket.number}] Cannot log in")

    def test_no_acknowledgement_to_robots_lists_and_ourselves(self):
        cases = {
            "List mail": {"headers": {"List-Id": "<news.shop.example>"}},
            "Unsubscribe": {"headers": {"List-Unsubscribe": "<mailto:u@shop.example>"}},
            "Out of office": {"headers": {"Auto-Submitted": "auto-replied"}},
            "Bulk": {"headers": {"Precedence": "bulk"}},
            "Looped": {"headers": {"X-Loop": "helpdesk@other.example"}},
            "Suppressed": {"headers": {"X-Auto-Response-Suppress": "All"}},
            "Postmaster": {"email_from": "postmaster@customer.example"},
            "No reply": {"email_from": "noreply@shop.example"},
            "Ourselves": {"email_from": MAILBOX},
        }
        for subject, values in cases.items():
            self.append(make_email(subject=subject, **values))
        self.fetch()
        self.assertFalse(self.acks())
        for subject in cases:
            log = self.logs(subject=subject)
            self.assertEqual(log.state, "done", subject)
            self.assertEqual(log.auto_reply_state, "not_sent", subject)
        self.assertIn("List-Id", self.logs(subject="List mail").auto_reply_reason)
        self.assertIn("Auto-Submitted", self.logs(subject="Out of office").auto_reply_reason)
        self.assertIn("own mailbox", self.logs(subject="Ourselves").auto_reply_reason)
        self.assertIn("robot sender", self.logs(subject="No reply").auto_reply_reason)

    def test_backlog_gets_no_acknowledgement(self):
        self.server.activation_date = fields.Datetime.now() - timedelta(days=1)
        old = (fields.Datetime.now() - timedelta(days=3)).replace(tzinfo=timezone.utc)
        self.append(make_email(subject="Old question", date=old))
        self.append(make_email(subject="New question"))
        self.fetch()
        self.assertEqual(len(self.tickets("Old question")), 1)
        self.assertIn("Backlog", self.logs(subject="Old question").auto_reply_reason)
        self.assertEqual(self.logs(subject="New question").auto_reply_state, "sent")
        self.assertEqual(len(self.acks()), 1)

    def test_loop_guard_counts_every_mailbox(self):
        self.server.auto_reply_limit = 2
        other = self.make_server(
            user="sales", converter_email="sales@company.example", auto_reply_limit=2
        )
        self.append(make_email(subject="Question 1", email_from="bob@customer.example"))
        self.append(make_email(subject="Question 2", email_from="bob@customer.example"))
        self.fetch()
        self.append(
            make_email(subject="Question 3", email_from="bob@customer.example"), user="sales"
        )
        self.fetch(other)
        self.assertEqual(len(self.acks("bob@customer.example")), 2)
        log = self.logs(server=other)
        self.assertEqual(log.auto_reply_state, "not_sent")
        self.assertIn("2 acknowledgements", log.auto_reply_reason)
        # Another customer is not affected.
        self.append(make_email(subject="Question 4", email_from="eve@customer.example"))
        self.fetch()
        self.assertEqual(len(self.acks("eve@customer.example")), 1)

    def test_simulator_shows_the_acknowledgement(self):
        Simulator = self.env["mail.converter.simulator"]
        wizard = Simulator.create(
            {"server_id": self.server.id, "eml_text": make_email(subject="Help").decode()}
        )
        wizard.action_simulate()
        self.assertEqual(wizard.auto_reply, "Yes: Acknowledgement to alice@customer.example")
        wizard = Simulator.create(
            {
                "server_id": self.server.id,
                "eml_text": make_email(subject="News", headers={"Precedence": "list"}).decode(),
            }
        )
        wizard.action_simulate()
        self.assertEqual(wizard.auto_reply, "No: Automatic or bulk mail: Precedence: list")
        self.assertFalse(self.acks())

    # -- new tickets: contact and responsible ----------------------------------------
    def test_unknown_sender_gets_a_contact(self):
        acme = self.env["res.partner"].create(
            {"name": "Acme", "is_company": True, "website": "https://www.acme.example"}
        )
        self.append(
            make_email(subject="Invoice copy", email_from='"Doe, John" <john@acme.example>')
        )
        self.append(make_email(subject="Gmail user", email_from="jane.roe@gmail.com"))
        self.fetch()
        ticket = self.tickets("Invoice copy")
        self.assertRecordValues(
            ticket.partner_id,
            [
                {
                    "name": "John Doe",
                    "email": "john@acme.example",
                    "parent_id": acme.id,
                    "mail_converter_created": True,
                }
            ],
        )
        self.assertEqual(
            ticket.message_ids.filtered(lambda m: m.message_type == "email").author_id,
            ticket.partner_id,
        )
        gmail = self.tickets("Gmail user").partner_id
        self.assertRecordValues(
            gmail, [{"name": "Jane Roe", "parent_id": False, "mail_converter_created": True}]
        )
        # A known sender gets no second contact.
        self.append(make_email(subject="Another one", email_from="john@acme.example"))
        self.fetch()
        self.assertEqual(self.tickets("Another one").partner_id, ticket.partner_id)
        self.assertEqual(
            self.env["res.partner"].search_count([("email", "=", "john@acme.example")]), 1
        )

    def test_never_assigned_to_odoobot(self):
        self.append(make_email(subject="Nobody's ticket"))
        self.fetch()
        ticket = self.tickets("Nobody's ticket")
        self.assertFalse(ticket.user_id)
        odoobot = self.env.ref("base.user_root")
        self.assertFalse(self.env["helpdesk.ticket"].search([("user_id", "=", odoobot.id)]))

    def test_assignment_order(self):
        Rule = self.env["mail.converter.rule"]
        inactive = new_test_user(self.env, "mc_gone", groups="base.group_user")
        inactive.active = False
        Rule.create(
            {
                "name": "Rule user",
                "sequence": 1,
                "user_id": self.agent.id,
                "team_id": self.team.id,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "contains", "value": "[rule]"}
                    )
                ],
            }
        )
        Rule.create(
            {
                "name": "Gone user, team",
                "sequence": 2,
                "user_id": inactive.id,
                "team_id": self.team.id,
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "contains", "value": "[team]"}
                    )
                ],
            }
        )
        Rule.create({"name": "Everything else", "sequence": 3})
        self.server.default_user_id = self.agent
        self.append(make_email(subject="[rule] printer"))
        self.append(make_email(subject="[team] printer"))
        self.append(make_email(subject="plain printer"))
        self.fetch()
        self.assertEqual(self.tickets("[rule] printer").user_id, self.agent)
        # The rule's user is gone: the team assigns it (its leader).
        self.assertEqual(self.tickets("[team] printer").user_id, self.leader)
        # No rule user, no team: the mailbox's default responsible.
        self.assertEqual(self.tickets("plain printer").user_id, self.agent)

    # -- bans ------------------------------------------------------------------------------
    def test_banned_domain_is_rejected(self):
        self.server.converter_folder_ids.after_action = "seen"
        ban = self.env["mail.converter.ban"].create({"pattern": "@Spam.Example", "reason": "Pills"})
        self.assertEqual(ban.pattern, "@spam.example")
        uid = self.append(make_email(subject="Cheap pills", email_from="sales@spam.example"))
        self.fetch()
        self.assertFalse(self.tickets("Cheap pills"))
        self.assertFalse(self.env["res.partner"].search([("email", "=", "sales@spam.example")]))
        log = self.logs()
        self.assertRecordValues(
            log, [{"state": "rejected", "ban_id": ban.id, "auto_reply_state": "not_sent"}]
        )
        self.assertEqual(log.reason, "Banned sender (@spam.example): Pills")
        self.assertIn("\\Seen", self.server_flags()[uid])
        self.assertEqual(ban.rejected_count, 1)
        self.assertFalse(self.acks())

    def test_ban_patterns(self):
        Ban = self.env["mail.converter.ban"]
        with self.assertRaises(ValidationError):
            Ban.create({"pattern": "@gmail.com"})
        with self.assertRaises(ValidationError):
            Ban.create({"pattern": "not a pattern"})
        Ban.create({"pattern": "someone@gmail.com"})

    # -- spam ------------------------------------------------------------------------------
    def _mark_spam(self, records, scope="address", user=None):
        records = records.with_user(user) if user else records
        action = records.action_mail_converter_spam()
        wizard = self.env["mail.converter.spam"].browse(action["res_id"])
        if user:
            wizard = wizard.with_user(user)
        wizard.ban_scope = scope
        return wizard.action_confirm()

    def test_spam_keeps_a_contact_that_has_something_else(self):
        self.append(make_email(subject="Spam 1", email_from="ads@promo.example"))
        self.append(make_email(subject="Real question", email_from="ads@promo.example"))
        self.fetch()
        contact = self.tickets("Spam 1").partner_id
        self.assertTrue(contact.mail_converter_created)
        result = self._mark_spam(self.tickets("Spam 1"), user=self.agent)
        self.assertTrue(contact.exists())
        self.assertIn("kept: it has Helpdesk Ticket records", result["params"]["message"])
        self.assertEqual(result["params"]["type"], "warning")

    def test_spam_needs_write_access(self):
        self.append(make_email(subject="Someone's ticket", email_from="x@promo.example"))
        self.fetch()
        reader = new_test_user(self.env, "mc_no_helpdesk", groups="base.group_user")
        with self.assertRaises(AccessError):
            self._mark_spam(self.tickets("Someone's ticket"), user=reader)
        self.assertTrue(self.tickets("Someone's ticket"))

    def test_spam_on_a_lead(self):
        self.server.object_id = self.env["ir.model"]._get("crm.lead")
        self.append(make_email(subject="Buy followers", email_from="growth@spammy.example"))
        self.fetch()
        lead = self.env["crm.lead"].search([("name", "=", "Buy followers")])
        self.assertEqual(len(lead), 1)
        self._mark_spam(lead, scope="domain")
        self.assertFalse(lead.exists())
        self.assertTrue(
            self.env["mail.converter.ban"].search([("pattern", "=", "@spammy.example")])
        )

    # -- follow-ups ------------------------------------------------------------------------
    def test_colleague_email_is_not_a_customer_followup(self):
        self.append(make_email(subject="Printer jam"))
        self.fetch()
        ticket = self.tickets("Printer jam")
        self.append(
            make_email(
                subject=f"Re: [{ticket.number}] Printer jam",
                email_from="Anna Agent <anna.agent@company.example>",
                body="I will drop by.",
            )
        )
        self.fetch()
        self.assertEqual(self.logs(subject=f"Re: [{ticket.number}] Printer jam").res_id, ticket.id)
        self.assertFalse(ticket.mail_converter_followup)

    def test_reopen_days_zero_files_on_the_closed_ticket(self):
        self.server.converter_reopen_days = 0
        self.append(make_email(subject="Broken", message_id="<broken@customer.example>"))
        self.fetch()
        ticket = self.tickets("Broken")
        done = self.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
        ticket.stage_id = done
        reply = {"In-Reply-To": "<broken@customer.example>"}
        self.append(make_email(subject="Re: Broken", body="Broken again", headers=reply))
        self.fetch()
        self.assertEqual(ticket.stage_id, done)
        self.assertTrue(ticket.mail_converter_followup)
        self.assertEqual(self.logs(subject="Re: Broken").res_id, ticket.id)


@tagged("post_install", "-at_install", "mail_converter")
class TestHelpdeskStories(HelpdeskMixin, MailConverterDovecotCase):
    """End-to-end stories with real mail, through Dovecot."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_helpdesk()

    def test_autoresponder_loop_stops_at_the_limit(self):
        """A helpdesk elsewhere answers each of our acknowledgements with a new ticket number of
        its own and no automatic-mail headers. Each answer opens a ticket here; the loop guard
        stops acknowledging after ``auto_reply_limit`` (3), and so the ping-pong ends."""
        robot = "desk@vendor.example"
        self.append(make_email(subject="Your order", email_from=f"Vendor Desk <{robot}>"))
        self.fetch()
        answered, rounds = set(), 0
        while rounds < 10:
            new = self.acks(robot).filtered(lambda m: m.id not in answered)
            if not new:
                break
            rounds += 1
            for ack in new:
                answered.add(ack.id)
                self.append(
                    make_email(
                        subject=f"[Vendor#{1000 + ack.id}] We received your message",
                        email_from=f"Vendor Desk <{robot}>",
                        body="Thank you, we received your message.",
                    )
                )
            self.fetch()
        self.assertEqual(len(self.acks(robot)), 3)
        self.assertEqual(rounds, 3)
        logs = self.logs().sorted("id")
        self.assertEqual(len(logs), 4)
        self.assertEqual(logs.mapped("auto_reply_state"), ["sent", "sent", "sent", "not_sent"])
        self.assertIn("Loop guard", logs[-1].auto_reply_reason)
        # The senders' acknowledgements carry what stops well-behaved robots.
        for ack in self.acks(robot):
            self.assertEqual(ast.literal_eval(ack.headers)["Auto-Submitted"], "auto-replied")

    def test_automatic_replies_go_to_the_return_path(self):
        """RFC 3834 section 4: a customer writing through a mailing service (VERP Return-Path)
        is acknowledged at the Return-Path; the ticket's contact stays the From address, and
        the loop guard counts the address mailed."""
        self.server.auto_reply_limit = 1
        verp = "bounces+alice=customer.example@mailer.example"
        self.append(
            make_email(
                subject="Through the mailer",
                email_from="Alice <alice@customer.example>",
                headers={"Return-Path": f"<{verp}>"},
            )
        )
        # Another sender, the same Return-Path: over the limit of the address mailed.
        self.append(
            make_email(
                subject="Also through the mailer",
                email_from="Bob <bob@customer.example>",
                headers={"Return-Path": f"<{verp}>"},
            )
        )
        self.fetch()
        ticket = self.tickets("Through the mailer")
        self.assertEqual(ticket.partner_id.email, "alice@customer.example")
        ack = self.acks().filtered(lambda m: m.res_id == ticket.id)
        self.assertEqual(len(ack), 1)
        self.assertEqual(ack.email_to, verp)
        self.assertFalse(ack.recipient_ids)
        self.assertRecordValues(
            self.logs(subject="Through the mailer"),
            [{"auto_reply_state": "sent", "auto_reply_to": verp}],
        )
        second = self.logs(subject="Also through the mailer")
        self.assertEqual(second.auto_reply_state, "not_sent")
        self.assertIn(f"sent to {verp}", second.auto_reply_reason)
        self.assertEqual(len(self.acks()), 1)
        # Oversized: the notice goes to the Return-Path too.
        self.server.converter_max_size = 1
        self.append(
            make_email(
                subject="Huge through the mailer",
                email_from="Carol <carol@customer.example>",
                headers={"Return-Path": "<bounces+carol=customer.example@mailer.example>"},
                attachments=[("scan.pdf", b"%PDF" + b"0" * 1_600_000, "application/pdf")],
            )
        )
        self.fetch()
        notice = self.env["mail.mail"].search([("subject", "like", "Not received:")])
        self.assertEqual(notice.email_to, "bounces+carol=customer.example@mailer.example")

    def test_list_and_backlog_mail_get_no_acknowledgement(self):
        self.append(
            make_email(
                subject="Newsletter",
                email_from="news@shop.example",
                headers={"List-Id": "Shop news <news.shop.example>"},
            )
        )
        # The Date header says now, but the server received it before the activation.
        received = (fields.Datetime.now() - timedelta(days=2)).replace(tzinfo=timezone.utc)
        self.dovecot.append(
            "support", make_email(subject="Waiting in the inbox"), date_time=received
        )
        self.append(make_email(subject="Fresh question"))
        self.fetch()
        self.assertEqual(len(self.tickets("Newsletter")), 1)
        self.assertEqual(len(self.tickets("Waiting in the inbox")), 1)
        self.assertIn("mailing list", self.logs(subject="Newsletter").auto_reply_reason)
        self.assertIn("Backlog", self.logs(subject="Waiting in the inbox").auto_reply_reason)
        self.assertEqual(len(self.acks()), 1)
        self.assertEqual(self.acks().res_id, self.tickets("Fresh question").id)

    def test_banned_domain(self):
        self.env["mail.converter.ban"].create({"pattern": "@spam.example"})
        self.server.converter_folder_ids.after_action = "seen"
        uid = self.append(make_email(subject="Win a prize", email_from="lucky@spam.example"))
        self.fetch()
        self.assertFalse(self.tickets("Win a prize"))
        self.assertEqual(self.logs().state, "rejected")
        self.assertIn("\\Seen", self.server_flags()[uid])
        self.assertFalse(self.acks())

    def _spam_manager(self):
        """A user who may delete tickets and contacts and ban domains (issue 18: a plain
        helpdesk user may not; see test_spam_rights)."""
        user = self.env["res.users"].search([("login", "=", "mc_spam_manager")])
        return user or new_test_user(
            self.env,
            "mc_spam_manager",
            name="Sam Manager",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_manager,"
            "base.group_partner_manager,mail_converter.group_mail_converter_manager",
        )

    def test_spam_on_one_ticket_never_comes_back(self):
        self.append(
            make_email(subject="Cheap watches", email_from="Sam Spam <sam@watches.example>")
        )
        self.fetch()
        ticket = self.tickets("Cheap watches")
        contact = ticket.partner_id
        self.assertTrue(contact.mail_converter_created)
        action = (
            ticket.with_user(self._spam_manager())
            .with_context(mail_converter_spam_from_form=True)
            .action_mail_converter_spam()
        )
        wizard = (
            self.env["mail.converter.spam"].with_user(self._spam_manager()).browse(action["res_id"])
        )
        self.assertIn("sam@watches.example", wizard.preview_html)
        log = self.logs(subject="Cheap watches")
        result = wizard.action_confirm()
        self.assertFalse(ticket.exists())
        self.assertFalse(contact.exists())
        self.assertIn("Marked as spam by Sam Manager", log.reason)
        self.assertEqual(result["params"]["next"]["res_model"], "helpdesk.ticket")
        self.assertIn("1 new contact(s) deleted", result["params"]["message"])
        self.assertTrue(
            self.env["mail.converter.ban"].search([("pattern", "=", "sam@watches.example")])
        )
        # It never comes back.
        self.append(make_email(subject="Cheap watches again", email_from="sam@watches.example"))
        self.fetch()
        self.assertFalse(self.tickets("Cheap watches again"))
        self.assertEqual(self.logs(subject="Cheap watches again").state, "rejected")

    def test_spam_on_ten_tickets(self):
        senders = [f"bot{i}@botnet.example" for i in range(8)] + [
            "spammer1@gmail.com",
            "spammer2@gmail.com",
        ]
        for i, sender in enumerate(senders):
            self.append(make_email(subject=f"Offer {i}", email_from=sender))
        self.append(make_email(subject="Real customer", email_from="kim@customer.example"))
        self.fetch()
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Offer ")])
        self.assertEqual(len(tickets), 10)
        contacts = tickets.partner_id
        action = tickets.with_user(self._spam_manager()).action_mail_converter_spam()
        wizard = (
            self.env["mail.converter.spam"].with_user(self._spam_manager()).browse(action["res_id"])
        )
        wizard.ban_scope = "domain"
        result = wizard.action_confirm()
        self.assertEqual(result["params"]["next"], {"type": "ir.actions.act_window_close"})
        self.assertFalse(tickets.exists())
        self.assertFalse(contacts.exists())
        bans = self.env["mail.converter.ban"].search([]).mapped("pattern")
        # The domain is banned once; free-mail senders by address only.
        self.assertEqual(
            sorted(bans), ["@botnet.example", "spammer1@gmail.com", "spammer2@gmail.com"]
        )
        self.assertTrue(self.tickets("Real customer"))
        self.append(make_email(subject="Offer again", email_from="bot99@botnet.example"))
        self.append(make_email(subject="Gmail friend", email_from="friend@gmail.com"))
        self.fetch()
        self.assertEqual(self.logs(subject="Offer again").state, "rejected")
        self.assertTrue(self.tickets("Gmail friend"))

    def _closed_ticket(self, subject, message_id, days_ago):
        self.append(make_email(subject=subject, message_id=message_id))
        self.fetch()
        ticket = self.tickets(subject)
        ticket.stage_id = self.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
        ticket.closed_date = fields.Datetime.now() - timedelta(days=days_ago)
        return ticket

    def test_reply_within_the_reopen_time_reopens(self):
        ticket = self._closed_ticket("Broken", "<broken@customer.example>", days_ago=3)
        done = ticket.stage_id
        reply = {"In-Reply-To": "<broken@customer.example>"}
        # An out-of-office reply never reopens a ticket.
        self.append(
            make_email(
                subject="Re: Broken (away)",
                headers=dict(reply, **{"Auto-Submitted": "auto-replied"}),
            )
        )
        self.fetch()
        self.assertEqual(ticket.stage_id, done)
        self.assertNotIn("Reopens", self.logs(subject="Re: Broken (away)").reason or "")
        self.append(make_email(subject="Re: Broken (2)", body="Hello?", headers=reply))
        self.fetch()
        self.assertEqual(ticket.stage_id, self.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_new"))
        self.assertTrue(ticket.mail_converter_followup)
        log = self.logs(subject="Re: Broken (2)")
        self.assertEqual(log.res_id, ticket.id)
        self.assertIn("Reopens the ticket (Done to New)", log.reason)
        self.assertEqual(len(self.acks().filtered(lambda m: m.res_id == ticket.id)), 1)

    def test_late_reply_opens_a_linked_ticket(self):
        follower = self.env["res.partner"].create(
            {"name": "Boss", "email": "boss@customer.example"}
        )
        ticket = self._closed_ticket("Old printer", "<old@customer.example>", days_ago=30)
        ticket.message_subscribe(partner_ids=follower.ids)
        reply = {"In-Reply-To": "<old@customer.example>"}
        raw = make_email(subject="Re: Old printer", body="It broke again", headers=reply)
        # The simulator says which case applies before anything is fetched.
        self.append(raw)
        wizard = simulate(self, raw)
        self.assertIn("Opens a new ticket", wizard.outcome + (wizard.stages_html or ""))
        self.assertIn("Acknowledgement to", wizard.auto_reply)
        self.fetch()
        log = self.logs(subject="Re: Old printer")
        new = self.env["helpdesk.ticket"].browse(log.res_id)
        self.assertNotEqual(new, ticket)
        self.assertTrue(ticket.stage_id.closed)
        self.assertEqual(new.mail_converter_followup_of_id, ticket)
        self.assertEqual(new.partner_id, ticket.partner_id)
        self.assertEqual(new.team_id, ticket.team_id)
        self.assertIn(follower, new.message_partner_ids)
        self.assertIn("Opens a new ticket", log.reason)
        # each note links to the other ticket
        link = '<a href="#" data-oe-model="helpdesk.ticket" data-oe-id="%s">%s</a>'
        self.assertTrue(
            new.message_ids.filtered(
                lambda m: f"Follow-up of {link % (ticket.id, ticket.number)}" in m.body
            )
        )
        self.assertTrue(
            ticket.message_ids.filtered(
                lambda m: f"Follow-up: {link % (new.id, new.number)}" in m.body
            )
        )
        ack = self.acks().filtered(lambda m: m.res_id == new.id)
        self.assertEqual(len(ack), 1)
        self.assertIn("is a new request", ack.body_html)
        self.assertIn(ticket.number, ack.body_html)
        # A team of its own keeps tickets reopenable longer.
        self.team.mail_converter_reopen_days = 60
        ticket.team_id = self.team
        self.append(make_email(subject="Re: Old printer (again)", headers=reply))
        self.fetch()
        self.assertEqual(self.logs(subject="Re: Old printer (again)").res_id, ticket.id)
        self.assertFalse(ticket.stage_id.closed)

    def size_notices(self):
        return self.env["mail.mail"].search([("subject", "like", "Not received:")], order="id")

    def test_oversized_email_gets_one_notice(self):
        self.server.converter_max_size = 1
        scan = [("scan.pdf", b"%PDF" + b"0" * 1_600_000, "application/pdf")]
        big = make_email(
            subject="Huge scan", message_id="<huge@customer.example>", attachments=scan
        )
        uid = self.append(big)
        # Automatic mail, bounces and banned senders never get a notice.
        self.append(
            make_email(
                subject="Big report",
                email_from="reports@robot.example",
                headers={"Auto-Submitted": "auto-generated"},
                attachments=scan,
            )
        )
        self.append(
            make_email(
                subject="Big bounce", email_from="mailer-daemon@mx.example", attachments=scan
            )
        )
        self.env["mail.converter.ban"].create({"pattern": "@spam.example"})
        self.append(make_email(subject="Big spam", email_from="x@spam.example", attachments=scan))
        self.fetch()
        self.fetch()  # still on the server, seen again: no second notice
        notice = self.size_notices()
        self.assertEqual(len(notice), 1)
        self.assertEqual(notice.email_to, "alice@customer.example")
        self.assertIn("Huge scan", notice.subject)
        self.assertRegex(
            notice.body_html, r"message of 2\.\d MB was not received; the limit is 1\.0 MB"
        )
        self.assertEqual(ast.literal_eval(notice.headers)["Auto-Submitted"], "auto-replied")
        self.assertIn(uid, self.server_flags())
        log = self.logs(message_id="<huge@customer.example>")
        self.assertRecordValues(
            log, [{"state": "rejected", "too_large": True, "auto_reply_state": "sent"}]
        )
        self.assertIn("Too large", log.reason)
        robot = self.logs(subject="Big report")
        self.assertIn("Automatic", robot.auto_reply_reason)
        self.assertEqual(self.logs(subject="Big spam").auto_reply_reason, "Banned sender")
        # The hourly cap counts the notices with the acknowledgements.
        for index in range(3):
            self.append(
                make_email(
                    subject=f"Huge {index}",
                    message_id=f"<huge{index}@customer.example>",
                    attachments=scan,
                )
            )
        self.fetch()
        self.assertEqual(len(self.size_notices()), 3)
        self.assertIn("Loop guard", self.logs(subject="Huge 2").auto_reply_reason)

    def test_cc_recipients_follow_and_get_the_replies(self):
        known = self.env["res.partner"].create(
            {"name": "Kim Known", "email": "kim@customer.example"}
        )
        self.env["mail.converter.ban"].create({"pattern": "@spam.example"})
        self.server.converter_cc_followers = "all"
        cc = (
            "Kim Known <kim@customer.example>, Nina New <nina@customer.example>, "
            f"anna.agent@company.example, {MAILBOX}, bad@spam.example"
        )
        self.append(make_email(subject="Shared problem", cc=cc, message_id="<shared@c.example>"))
        self.fetch()
        ticket = self.tickets("Shared problem")
        nina = self.env["res.partner"].search([("email", "=", "nina@customer.example")])
        self.assertTrue(nina.mail_converter_created)
        followers = ticket.message_partner_ids
        self.assertIn(known, followers)
        self.assertIn(nina, followers)
        self.assertNotIn(self.agent.partner_id, followers)
        self.assertFalse(followers.filtered(lambda p: p.email in (MAILBOX, "bad@spam.example")))
        # A follow-up adds a Cc recipient not yet following (known contacts only this time).
        self.server.converter_cc_followers = "known"
        omar = self.env["res.partner"].create({"name": "Omar", "email": "omar@customer.example"})
        self.append(
            make_email(
                subject=f"Re: [{ticket.number}] Shared problem",
                cc="omar@customer.example, zed@customer.example",
            )
        )
        self.fetch()
        self.assertIn(omar, ticket.message_partner_ids)
        self.assertFalse(self.env["res.partner"].search([("email", "=", "zed@customer.example")]))
        # The agent's reply reaches the Cc follower through Odoo's own notification.
        message = ticket.with_user(self.agent).message_post(
            body="Fixed for all of you", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        mails = self.env["mail.mail"].search([("mail_message_id", "=", message.id)])
        self.assertIn(nina, mails.recipient_ids)
        self.assertIn(known, mails.recipient_ids)
        # A new lead too.
        self.server.object_id = self.env["ir.model"]._get("crm.lead")
        self.append(make_email(subject="Big order", cc="Kim Known <kim@customer.example>"))
        self.fetch()
        lead = self.env["crm.lead"].browse(self.logs(subject="Big order").res_id)
        self.assertEqual(lead._name, "crm.lead")
        self.assertIn(known, lead.message_partner_ids)
        # With "no", nobody new follows.
        self.server.converter_cc_followers = "no"
        self.server.object_id = self.ticket_model
        self.append(make_email(subject="Private problem", cc="omar@customer.example"))
        self.fetch()
        self.assertNotIn(omar, self.tickets("Private problem").message_partner_ids)

    def test_followup_lands_on_its_ticket_and_stands_out(self):
        self.server.default_user_id = self.agent
        self.append(make_email(subject="Slow laptop"))
        self.fetch()
        ticket = self.tickets("Slow laptop")
        self.assertEqual(ticket.user_id, self.agent)
        self.assertFalse(ticket.mail_converter_followup)
        self.assertEqual(ticket.mail_converter_server_id, self.server)
        self.append(
            make_email(subject=f"Re: [{ticket.number}] Slow laptop", body="Now it is worse")
        )
        self.fetch()
        self.assertEqual(len(self.tickets("Slow laptop")), 1)
        self.assertTrue(ticket.mail_converter_followup)
        message = self.logs(subject=f"Re: [{ticket.number}] Slow laptop").mail_message_id
        self.assertEqual(message.res_id, ticket.id)
        unread = self.env["mail.notification"].search(
            [
                ("mail_message_id", "=", message.id),
                ("res_partner_id", "=", self.agent.partner_id.id),
            ]
        )
        self.assertEqual(unread.is_read, False)
        flagged = self.env["helpdesk.ticket"].search([("mail_converter_followup", "=", True)])
        self.assertIn(ticket, flagged)
        # The agent answers: the flag goes.
        ticket.with_user(self.agent).message_post(
            body="Try a restart", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.assertFalse(ticket.mail_converter_followup)

    def test_replies_from_mailbox_and_as_me(self):
        self.append(
            make_email(
                subject="VPN down",
                email_from="Dana <dana@customer.example>",
                message_id="<vpn@customer.example>",
            )
        )
        self.fetch()
        ticket = self.tickets("VPN down")
        dana = ticket.partner_id
        as_agent = ticket.with_user(self.agent)

        # Reply from mailbox (the default): From and Reply-To are the shared address.
        message = as_agent.message_post(
            body="We are on it",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=dana.ids,
        )
        mail = self.env["mail.mail"].search([("mail_message_id", "=", message.id)])
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.email_from, f'"Anna Agent" <{MAILBOX}>')
        self.assertIn(MAILBOX, mail.reply_to)
        self.assertNotIn("anna.agent@", mail.reply_to)
        self.assertIn("<vpn@customer.example>", mail.references)
        self.assertNotIn("Auto-Submitted", mail.headers or "")
        self.assertEqual(mail.recipient_ids, dana)
        self.assertEqual(message.author_id, self.agent.partner_id)

        # Reply as me, from the composer: the agent's own address.
        composer = (
            self.env["mail.compose.message"]
            .with_user(self.agent)
            .with_context(
                default_model="helpdesk.ticket",
                default_res_ids=ticket.ids,
                default_composition_mode="comment",
            )
            .create({"body": "Personally: fixed.", "partner_ids": dana.ids})
        )
        self.assertTrue(composer.mail_converter_show_reply_mode)
        self.assertEqual(composer.mail_converter_reply_mode, "mailbox")
        composer.mail_converter_reply_mode = "me"
        _mails, messages = composer._action_send_mail()
        mine = self.env["mail.mail"].search([("mail_message_id", "in", messages.ids)])
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine.email_from, self.agent.email_formatted)
        self.assertNotIn(MAILBOX, mine.reply_to or "")
        self.assertNotIn("Auto-Submitted", mine.headers or "")

        # The customer answers the mailbox reply: it comes back to the same ticket.
        self.append(
            make_email(
                subject="Re: VPN down",
                email_from="dana@customer.example",
                to=MAILBOX,
                body="Works again, thanks",
                headers={"In-Reply-To": message.message_id, "References": message.message_id},
            )
        )
        self.fetch()
        self.assertEqual(len(self.tickets("VPN down")), 1)
        self.assertRecordValues(
            self.logs(subject="Re: VPN down"),
            [{"state": "done", "model": "helpdesk.ticket", "res_id": ticket.id}],
        )


@tagged("post_install", "-at_install", "mail_converter")
class TestAcknowledgementWorkers(BaseCase):
    """Two workers acknowledging the same sender at once, with real committed transactions."""

    SENDER = "twin@customer.example"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        start_dovecot(cls)

    def _env(self, cr):
        return api.Environment(
            cr, SUPERUSER_ID, {"mail_create_nolog": True, "tracking_disable": True}
        )

    def setUp(self):
        super().setUp()
        self.server_ids = []
        with self.registry.cursor() as cr:
            env = self._env(cr)
            for user in ("support", "sales"):
                self.dovecot.reset_user(user)
                server = env["fetchmail.server"].create(
                    {
                        "name": f"ack worker {user}",
                        "server_type": "imap",
                        "server": "127.0.0.1",
                        "port": self.dovecot.imap_port,
                        "is_ssl": False,  # plain IMAP on loopback; new mailboxes default to SSL
                        "user": user,
                        "password": user,
                        "converter_email": f"{user}@company.example",
                        "use_converter": True,
                        "auto_reply_limit": 1,
                        "object_id": env["ir.model"]._get("helpdesk.ticket").id,
                        "state": "done",
                    }
                )
                self.server_ids.append(server.id)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            tickets = env["helpdesk.ticket"].search([("name", "like", "Twin question %")])
            env["mail.mail"].search(
                [("model", "=", "helpdesk.ticket"), ("res_id", "in", tickets.ids)]
            ).unlink()
            tickets.unlink()
            env["mail.converter.log"].search([("server_id", "in", self.server_ids)]).unlink()
            env["res.partner"].search(
                ["|", ("email", "=", self.SENDER), ("email", "=like", "%@flood.example")]
            ).unlink()
            env["fetchmail.server"].browse(self.server_ids).unlink()

    def test_limit_holds_across_concurrent_workers(self):
        for user in ("support", "sales"):
            for i in range(3):
                self.dovecot.append(
                    user, make_email(subject=f"Twin question {user} {i}", email_from=self.SENDER)
                )
        barrier = threading.Barrier(2)
        errors = []

        def work(server_id):
            try:
                with self.registry.cursor() as cr:
                    barrier.wait(timeout=10)
                    error = self._env(cr)["fetchmail.server"].browse(server_id)._converter_fetch()
                    if error:
                        errors.append(error)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(sid,)) for sid in self.server_ids]
        # The test runner holds the registry lock; the workers would wait on it forever.
        with patch.object(Registry, "_lock", DummyRLock()):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(errors)
        with self.registry.cursor() as cr:
            logs = self._env(cr)["mail.converter.log"].search(
                [("server_id", "in", self.server_ids)]
            )
            self.assertEqual(len(logs), 6)
            self.assertEqual(sorted(logs.mapped("auto_reply_state")), ["not_sent"] * 5 + ["sent"])

    def test_hourly_cap_holds_across_concurrent_workers(self):
        """Two workers convert emails of one mailbox at once, each in its own transaction:
        the mailbox-wide cap (3) is counted under a lock, so never more replies than it."""
        server_id = self.server_ids[0]
        with self.registry.cursor() as cr:
            server = self._env(cr)["fetchmail.server"].browse(server_id)
            server.write({"auto_reply_hourly_cap": 3, "auto_reply_limit": 5})
        barrier = threading.Barrier(2)
        errors = []

        def work(worker):
            try:
                with self.registry.cursor() as cr:
                    server = self._env(cr)["fetchmail.server"].browse(server_id)
                    source = server._converter_source()
                    folder = server.converter_folder_ids[:1]
                    origin = folder._converter_origin()
                    barrier.wait(timeout=10)
                    for n in range(3):
                        raw = make_email(
                            subject=f"Twin question cap {worker} {n}",
                            email_from=f"sender{worker}{n}@flood.example",
                            message_id=f"<cap-{worker}-{n}@flood.example>",
                        )
                        uid = worker * 10 + n + 1
                        folder._converter_process_one(raw, source, origin.for_message(uid=uid))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in (1, 2)]
        with patch.object(Registry, "_lock", DummyRLock()):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(errors)
        self.assertFalse(any(t.is_alive() for t in threads), "a worker hung")
        with self.registry.cursor() as cr:
            logs = self._env(cr)["mail.converter.log"].search([("server_id", "=", server_id)])
            self.assertEqual(sorted(logs.mapped("state")), ["done"] * 6)
            self.assertEqual(
                sorted(logs.mapped("auto_reply_state")), ["not_sent"] * 3 + ["sent"] * 3
            )
            capped = logs.filtered(lambda log: log.auto_reply_state == "not_sent")
            self.assertTrue(all("hourly cap" in log.auto_reply_reason for log in capped))

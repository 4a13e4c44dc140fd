"""Batch apply (``mail.converter.batch``): a batch applied in waves gives, field by field, what
one email at a time gives.

The same corpus is converted twice from the same starting state: one email at a time
(``mail_converter.batch_apply`` = 0) in a second database, a copy of the freshly installed
test database that ``scripts/test.sh`` makes, and batched in the test database. Everything a user
could see is compared, except record ids, sequence numbers and order.
"""

import os
import re
import sys
from collections import Counter
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.modules.registry import Registry
from odoo.service import db
from odoo.sql_db import Cursor
from odoo.tests import new_test_user, tagged
from odoo.tools import mail as odoo_mail

from ..models import email_split_memo
from ..tools import waves
from ..tools.prefetch import Prefetch
from ..tools.wave_memo import WaveMemo
from .common import make_email
from .test_special import DATA, SpecialMailCase, TestBounces, sample

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
import corpus as bench_corpus  # noqa: E402

BATCH_LOGGER = "odoo.addons.mail_converter.models.mail_converter_batch"


@tagged("post_install", "-at_install", "mail_converter")
class TestBatchParity(SpecialMailCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bcc_server, cls.pec_server, cls.quote = cls.parity_world(cls.env, cls.server)

    @classmethod
    def parity_world(cls, env, server):
        """The contacts, the ticket whose mail bounces and the mailboxes the corpus is
        converted with, in ``env`` (each database gets the same); ``server`` is the support
        mailbox. Return the BCC-logging mailbox, the PEC mailbox and the bounced message."""
        rita = new_test_user(env, login="batch_rita", name="Rita Rep", email="rita@company.example")
        Partner = env["res.partner"]
        Partner.create({"name": "Karl Customer", "email": "karl@customer.example"})
        gone = Partner.create({"name": "Gone Customer", "email": "gone@customer.example"})
        ticket = env["helpdesk.ticket"].create(
            {"name": "Quotation", "description": "Quotation", "partner_id": gone.id}
        )
        quote = TestBounces.send(ticket, gone, "<batch-quote@company.example>", "Your quotation")
        # Requests for a quote become leads (bulk-created leads, and replies filed on them).
        env["mail.converter.rule"].create(
            {
                "name": "Quotes",
                "action": "lead",
                "condition_ids": [
                    fields.Command.create(
                        {"field": "subject", "operator": "contains", "value": "quote"}
                    )
                ],
            }
        )
        server.write(
            {
                "batch_size": 200,
                "converter_cc_followers": "all",
                "auto_reply_template_id": env.ref(
                    "mail_converter.mail_template_ticket_acknowledgement"
                ).id,
            }
        )
        bcc_server = cls.make_server(
            env=env,
            user="sales",
            batch_size=200,
            bcc_logging=True,
            bcc_user_ids=[fields.Command.set(rita.ids)],
        )
        pec_server = cls.make_server(env=env, user="archive", batch_size=200, is_pec=True)
        return bcc_server, pec_server, quote

    def corpus(self):
        """HTML, Cc lists, attachments and replies inside the batch (the benchmark's corpus),
        new senders writing twice, private mail, bounces (genuine and forged), BCC logging."""
        mails = bench_corpus.generate(40, seed=11)
        mails[5:5] = [
            make_email(
                "First question",
                email_from="New Person <new.person@fresh.example>",
                message_id="<first-question@fresh.example>",
            ),
            make_email(
                "Private matter",
                email_from="Paula <paula@private.example>",
                headers={"Sensitivity": "Private"},
                message_id="<private-matter@private.example>",
            ),
        ]
        mails[12:12] = [
            make_email(
                "Second question",
                email_from="New Person <new.person@fresh.example>",
                message_id="<second-question@fresh.example>",
            ),
            TestBounces.report(["gone@customer.example"], self.quote.message_id),
            TestBounces.report(["karl@customer.example"], "<made-up@company.example>"),
        ]
        return mails

    def bcc_corpus(self):
        """BCC logging: representatives' mail to customers, and strangers' (explained)."""
        mails = []
        for n in range(6):
            mails.append(
                make_email(
                    f"Our offer {n}",
                    email_from="Rita Rep <rita@company.example>",
                    to="Karl <karl@customer.example>" if n % 2 else f"lead{n}@prospect.example",
                    headers={"Bcc": "sales-log@company.example"},
                    message_id=f"<offer-{n}@company.example>",
                )
            )
            mails.append(
                make_email(
                    f"Hello {n}",
                    email_from=f"stranger{n % 3}@else.example",
                    to="karl@customer.example",
                    headers={"Bcc": "sales-log@company.example"},
                    message_id=f"<hello-{n}@else.example>",
                )
            )
        return mails

    def pec_corpus(self):
        """Certified mail (PEC): a message and its receipts."""
        return [sample("pec", name) for name in sorted(os.listdir(os.path.join(DATA, "pec")))]

    def load_mailboxes(self):
        """Deliver the corpus into the mailboxes of the test mail server (emptied first)."""
        self._reset_mail_server()
        for user, mails in (
            ("support", self.corpus()),
            ("sales", self.bcc_corpus()),
            ("archive", self.pec_corpus()),
        ):
            for raw in mails:
                self.append(raw, user=user)

    @staticmethod
    def highest_ids(env):
        return {
            model: max(env[model].sudo().with_context(active_test=False).search([]).ids or [0])
            for model in SNAPSHOT_MODELS
        }

    def convert(self, batched):
        """Convert the corpus from the mailboxes in the test database; what a user would see."""
        self.env["ir.config_parameter"].set_param(
            "mail_converter.batch_apply", "1" if batched else "0"
        )
        self.load_mailboxes()
        self.env.flush_all()
        before = self.highest_ids(self.env)
        for server in (self.server, self.bcc_server, self.pec_server):
            self.fetch(server)
        return Snapshot(self.env, before).take()

    def convert_one_by_one_elsewhere(self, dbname):
        """Convert the corpus one email at a time in the database ``dbname`` (a copy of the
        freshly installed test database, see ``scripts/test.sh``), from the same world and
        the same mailboxes, with real commits; what a user would see there."""
        registry = Registry(dbname)
        try:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, dict(self.env.context))
                env["fetchmail.server"].search([]).action_archive()
                server = self.make_server(env=env)
                servers = (server, *self.parity_world(env, server)[:2])
                server_ids = [s.id for s in servers]
                env["ir.config_parameter"].set_param("mail_converter.batch_apply", "0")
                before = self.highest_ids(env)
            self.load_mailboxes()
            for server_id in server_ids:
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, dict(self.env.context))
                    env["fetchmail.server"].browse(server_id)._fetch_mail()
            with registry.cursor() as cr:
                return Snapshot(api.Environment(cr, SUPERUSER_ID, {}), before).take()
        finally:
            Registry.delete(dbname)
            sql_db.close_db(dbname)

    def test_batched_is_identical_to_one_email_at_a_time(self):
        other = os.environ.get("MC_TEST_PARITY_DB")
        if other:
            # Two databases: nothing one run leaves in memory or in the database helps the other.
            self.assertTrue(db.exp_db_exist(other), f"{other}: scripts/test.sh makes this copy")
            one_by_one = self.convert_one_by_one_elsewhere(other)
        else:
            # Run outside scripts/test.sh: one database, the first run rolled back.
            self.env.flush_all()
            self.env.cr.execute("SAVEPOINT batch_parity")
            one_by_one = self.convert(batched=False)
            self.env.cr.execute("ROLLBACK TO SAVEPOINT batch_parity")
            self.env.invalidate_all()
            self.env.registry.clear_cache()
        with (
            patch.object(waves, "first_wave", wraps=waves.first_wave) as first_wave,
            self.assertNoLogs(BATCH_LOGGER, "INFO"),
        ):
            batched = self.convert(batched=True)
        # Waves really happened: several emails together, and some waited for others.
        sizes = [(len(now), len(later)) for now, later in first_wave_result(first_wave)]
        self.assertGreater(max(now for now, _later in sizes), 10, sizes)
        self.assertTrue(any(later for _now, later in sizes), sizes)
        self.assertEqual(sorted(one_by_one), sorted(batched))
        for key in one_by_one:
            self.assertEqual(one_by_one[key], batched[key], key)
        # The corpus exercised what it claims to.
        logs = one_by_one["mail.converter.log"]
        kinds = {(row["state"], row["kind"]) for row in logs}
        expected = {
            ("done", "mail"),
            ("bounce", "bounce"),
            ("done", "bcc"),
            ("rejected", "bcc"),
            ("done", "pec"),
        }
        self.assertTrue(expected <= kinds, kinds)
        self.assertTrue(any(row["private"] for row in logs))
        self.assertTrue(one_by_one["mail.mail"])
        self.assertTrue(one_by_one["crm.lead"])


@tagged("post_install", "-at_install", "mail_converter")
class TestBatchReads(SpecialMailCase):
    """What planning asks of every email is read once per batch (or per wave), not per email."""

    def setUp(self):
        super().setUp()
        self.server.write({"batch_size": 50})
        self.env["ir.config_parameter"].set_param("mail_converter.batch_apply", "1")

    def deliver(self, count, email):
        """Put ``count`` emails in the mailbox, the ``n``-th being ``email(n)``."""
        for n in range(count):
            self.append(email(n))

    def ask(self, ticket, customer, question):
        """Post ``question`` on ``ticket`` to ``customer``, as an agent does; return it."""
        return ticket.message_post(
            body=question,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=customer.ids,
        )

    SHAPES = {
        "match": "SELECT 'res.partner', p.id",
        "privacy flags": '"res_partner"."email_normalized" IN',
        "already in Odoo": '"mail_message"."message_id" IN',
        "contact claims": "pg_try_advisory_xact_lock(",
        "company by website": '"res_partner"."website" ILIKE',
        "links": 'INSERT INTO "mail_converter_link"',
        "log rows read back": 'FROM "mail_converter_log" WHERE "mail_converter_log"."id" IN',
        "loop guard allow-list": 'FROM "mail_gateway_allowed"',
        "log claims": "INSERT INTO mail_converter_log",
    }

    def fetch_counting(self, shapes, counts=lambda _name, _text: True):
        """Fetch; return how many queries of each of ``shapes`` (``{name: text}``) ran, a
        query counting for ``name`` when it holds the text and ``counts(name, text)``."""
        seen = dict.fromkeys(shapes, 0)
        original_execute = Cursor.execute

        def execute(cr, query, params=None, log_exceptions=True):
            text = query.code if hasattr(query, "code") else str(query)
            for name, shape in shapes.items():
                if shape in text and counts(name, text):
                    seen[name] += 1
            return original_execute(cr, query, params, log_exceptions)

        with patch.object(Cursor, "execute", execute):
            self.fetch()
        return seen

    def test_one_query_per_batch_for_what_every_email_asks(self):
        self.server.write({"link_company_by_domain": True})
        company = self.env["res.partner"].create(
            {"name": "Reads Three Ltd", "is_company": True, "website": "https://www.reads3.example"}
        )
        count = 8
        self.deliver(
            count,
            lambda n: make_email(
                f"Batch reads {n}",
                email_from=f"Sender {n} <sender{n}@reads{n}.example>",
                cc=f"colleague{n}@reads{n}.example",
                message_id=f"<batch-reads-{n}@reads.example>",
            ),
        )
        seen = self.fetch_counting(
            self.SHAPES, lambda name, text: name != "privacy flags" or "_private" in text
        )
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Batch reads")])
        self.assertEqual(len(tickets), count)
        self.assertEqual(
            set(tickets.partner_id.mapped("email")),
            {f"sender{n}@reads{n}.example" for n in range(count)},
        )
        # The contact of a company's domain joins it, as one email at a time does.
        joined = tickets.partner_id.filtered("parent_id")
        self.assertEqual(joined.mapped("email"), ["sender3@reads3.example"])
        self.assertEqual(joined.parent_id, company)
        # One planning round and one wave here: each at most twice, however many emails.
        for name, queries in seen.items():
            self.assertLessEqual(queries, 2, f"{name}: {queries} queries for {count} emails")
        self.assertGreater(seen["match"], 0, "the match query is counted")

    # What Odoo's own gateway asks again for every email it posts (author, recipients,
    # reply-to, a new ticket's number and stage), answered by the wave's memo.
    GATEWAY_SHAPES = {
        "contacts by address": '"res_partner"."email_normalized" IN',
        "OdooBot exists": 'FROM "res_users" WHERE "res_users"."id" IN',
        "ticket sequence": 'FROM "ir_sequence" LEFT JOIN',
        "ticket stage": 'FROM "helpdesk_ticket_stage" WHERE',
        "reply-to aliases": '"mail_alias__alias_parent_model_id"',
        "creation subtype": 'FROM "mail_message_subtype" WHERE "mail_message_subtype"."id" IN',
        "thread's last message": '"mail_message"."message_type" NOT IN',
        "bounce counters": '"message_bounce" >',
        # planning: whether a matched contact's (or its company's) flags make mail private
        "matched contacts' privacy": '"res_partner__commercial_partner_id"."mail_converter_all',
    }

    def test_what_odoo_asks_for_each_email_is_asked_once_a_wave(self):
        known = self.env["res.partner"].create({"name": "Known", "email": "known@gate.example"})
        bounced = self.env["res.partner"].create(
            {"name": "Sender 5", "email": "sender5@gate5.example", "message_bounce": 2}
        )
        count = 8
        self.deliver(
            count,
            lambda n: make_email(
                f"Gateway reads {n}",
                email_from=f"Sender {n} <sender{n}@gate{n}.example>",
                cc="Known <known@gate.example>",
                message_id=f"<gateway-reads-{n}@gate.example>",
            ),
        )
        seen = self.fetch_counting(
            self.GATEWAY_SHAPES,
            lambda name, text: (
                name == "matched contacts' privacy"
                or ("_private" not in text and "p.id" not in text)
            ),
        )
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Gateway reads")])
        self.assertEqual(len(tickets), count)
        # What the answers decide is what the database says: numbers, stage, customer.
        self.assertEqual(len(set(tickets.mapped("number"))), count)
        self.assertNotIn("/", tickets.mapped("number"))
        self.assertTrue(all(tickets.mapped("stage_id")))
        self.assertEqual(
            set(tickets.partner_id.mapped("email")),
            {f"sender{n}@gate{n}.example" for n in range(count)},
        )
        for ticket in tickets:
            message = ticket.message_ids.filtered(lambda m: m.message_type == "email")
            self.assertEqual(len(message), 1)
            self.assertIn(known, message.partner_ids, "the Cc contact is a recipient")
        # mail from an address resets its bounce counter, as Odoo's gateway does
        self.assertEqual(bounced.message_bounce, 0)
        self.assertIn(bounced, tickets.partner_id)
        too_many = {name: queries for name, queries in seen.items() if queries > 3}
        self.assertFalse(too_many, f"queries for {count} emails: {seen}")
        self.assertGreater(seen["contacts by address"], 0, "the look-up is counted")
        self.assertGreater(seen["matched contacts' privacy"], 0, "the look-up is counted")

    def test_a_batch_splits_each_address_text_once(self):
        """Odoo splits the same From, To and Cc about 30 times an email; a batch, once."""
        count = 6
        self.deliver(
            count,
            lambda n: make_email(
                f"Split once {n}",
                email_from=f'"Sender, {n}" <sender{n}@split{n}.example>',
                cc=f"Colleague <colleague{n}@split{n}.example>, known@split.example",
                message_id=f"<split-once-{n}@split.example>",
            ),
        )
        splits = Counter()
        odoo_split = email_split_memo._split

        def counting(text):
            splits[text] += 1
            return odoo_split(text)

        with patch.object(email_split_memo, "_split", counting):
            self.fetch()
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Split once")])
        self.assertEqual(len(tickets), count)
        self.assertEqual(
            set(tickets.partner_id.mapped("email")),
            {f"sender{n}@split{n}.example" for n in range(count)},
        )
        for ticket in tickets:
            self.assertIn("known@split.example", ticket.email_cc or "")
        self.assertIn(f"sender{count - 1}@split{count - 1}.example", " ".join(map(str, splits)))
        # (an empty value, False, is answered at once, without splitting)
        again = {text: n for text, n in splits.items() if n > 1 and text}
        self.assertFalse(again, f"split more than once in a batch: {again}")

    def test_the_messages_a_batch_answers_are_read_once(self):
        count = 6
        tickets = self.env["helpdesk.ticket"]
        for n in range(count):
            customer = self.env["res.partner"].create(
                {"name": f"Customer {n}", "email": f"customer{n}@answered{n}.example"}
            )
            ticket = tickets.create({"name": f"Answered {n}", "description": "First"})
            sent = self.ask(ticket, customer, "Could you send a photo?")
            tickets |= ticket
            self.append(
                make_email(
                    f"Re: Answered {n}",
                    email_from=f"Customer {n} <customer{n}@answered{n}.example>",
                    headers={"In-Reply-To": sent.message_id},
                    message_id=f"<reply-{n}@answered.example>",
                )
            )
        self.env.flush_all()
        seen = self.fetch_counting(
            {"replied messages": '"mail_message"."message_id" IN'},
            lambda _name, text: '"mail_message"."res_id"' in text,
        )
        for n, ticket in enumerate(tickets):
            self.assertIn(
                f"<reply-{n}@answered.example>", ticket.message_ids.mapped("message_id"), n
            )
        self.assertLessEqual(seen["replied messages"], 2, seen)

    def test_a_waves_messages_are_created_at_once(self):
        """Each email's message is made by Odoo's own message_post, but the wave's messages
        are inserted together (their attachments too), and whom they notify is read
        together; what each email then does with its message (notify the ticket's
        followers) is unchanged."""
        agent = new_test_user(self.env, "wave_agent", groups="helpdesk_mgmt.group_helpdesk_user")
        agent.notification_type = "inbox"
        customers = self.env["res.partner"]
        replied = self.env["helpdesk.ticket"]
        for n in range(3):
            customer = self.env["res.partner"].create(
                {"name": f"Customer {n}", "email": f"customer{n}@wave{n}.example"}
            )
            ticket = replied.create(
                {"name": f"Waiting {n}", "description": "First", "partner_id": customer.id}
            )
            ticket.message_subscribe(partner_ids=agent.partner_id.ids)
            sent = self.ask(ticket, customer, "Which printer?")
            customers |= customer
            replied |= ticket
            self.append(
                make_email(
                    f"Re: Waiting {n}",
                    email_from=f"Customer {n} <customer{n}@wave{n}.example>",
                    body=f"Reply number {n}",
                    headers={"In-Reply-To": sent.message_id},
                    message_id=f"<wave-reply-{n}@wave.example>",
                )
            )
        self.deliver(
            5,
            lambda n: make_email(
                f"Created at once {n}",
                email_from=f"Sender {n} <sender{n}@once{n}.example>",
                body=f"New request {n}",
                message_id=f"<created-at-once-{n}@once.example>",
                attachments=[(f"photo-{n}.txt", f"photo {n}".encode(), "text/plain")]
                if n < 2
                else (),
            ),
        )
        self.env.flush_all()
        Message = type(self.env["mail.message"])
        Attachment = type(self.env["ir.attachment"])
        create, create_attachments = Message.create, Attachment._converter_create_now
        creates = []  # the Message-IDs of each create of messages
        attachments_created = []  # the names of each create of attachments, below its override

        def recording(messages, vals_list):
            creates.append({values.get("message_id") for values in vals_list})
            return create(messages, vals_list)

        def recording_attachments(attachments, vals_list):
            attachments_created.append({values.get("name") for values in vals_list})
            return create_attachments(attachments, vals_list)

        with (
            patch.object(Message, "create", recording),
            patch.object(Attachment, "_converter_create_now", recording_attachments),
        ):
            seen = self.fetch_counting({"whom a message notifies": "WITH sub_followers AS"})
        emails = {f"<wave-reply-{n}@wave.example>" for n in range(3)} | {
            f"<created-at-once-{n}@once.example>" for n in range(5)
        }
        self.assertIn(emails, creates, "the eight emails' messages created at once")
        self.assertIn({"photo-0.txt", "photo-1.txt"}, attachments_created, "and attachments")
        # (whom replies notify and whom new tickets' messages notify: two questions)
        self.assertLessEqual(seen["whom a message notifies"], 2, seen)
        new = self.env["helpdesk.ticket"].search([("name", "like", "Created at once")])
        self.assertEqual(len(new), 5)
        for ticket in new:
            n = ticket.name[-1]
            message = ticket.message_ids.filtered(lambda m: m.message_type == "email")
            self.assertEqual(message.message_id, f"<created-at-once-{n}@once.example>")
            self.assertEqual(message.author_id, ticket.partner_id)
            self.assertIn(f"New request {n}", str(message.body))
            expected = [f"photo-{n}.txt"] if int(n) < 2 else []
            self.assertEqual(message.attachment_ids.mapped("name"), expected)
            self.assertEqual(message.attachment_ids.mapped("res_id"), ticket.ids * len(expected))
        for n, (ticket, customer) in enumerate(zip(replied, customers, strict=True)):
            message = ticket.message_ids.filtered(
                lambda m: m.message_id == f"<wave-reply-{n}@wave.example>"  # noqa: B023
            )
            self.assertEqual(len(message), 1, n)
            self.assertEqual(message.author_id, customer)
            self.assertIn(f"Reply number {n}", str(message.body))
            # the ticket's follower is notified of the customer's answer, in Odoo
            self.assertIn(agent.partner_id, message.notification_ids.res_partner_id, n)

    def test_a_waves_emails_share_their_environments(self):
        """Odoo compares a new environment's context with every live one of the transaction;
        an email's posting environments live until the commit, so a wave must not make new
        ones for each email (a marker per email kept about two an email alive)."""
        count = 8
        self.deliver(
            count,
            lambda n: make_email(
                f"Shared environments {n}",
                email_from=f"Sender {n} <sender{n}@envs{n}.example>",
                message_id=f"<shared-envs-{n}@envs.example>",
            ),
        )
        Batch = type(self.env["mail.converter.batch"])
        apply_one = Batch._converter_apply_one
        live = []

        def counting(batch, Converter, entry, source):
            links = apply_one(batch, Converter, entry, source)
            live.append(len(batch.env.transaction.envs))
            return links

        with patch.object(Batch, "_converter_apply_one", counting):
            self.fetch()
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Shared environments")])
        self.assertEqual(len(tickets), count)
        self.assertEqual(len(live), count, "applied in one wave")
        self.assertLessEqual(live[-1] - live[0], 2, f"live environments after each email: {live}")

    def test_remembered_splits_answer_as_odoo(self):
        texts = [
            '"Doe, John" <john@example.com>, jane@example.com',
            "Name email@example.com",
            "@gmail.com, real@example.com",
            "no address here",
            "",
            False,
            "=?utf-8?q?J=C3=B6rg?= <jorg@example.com>",
            "a@b.example, " * 200,  # longer than the memo keeps
        ]
        expected = [email_split_memo._split(text) for text in texts]
        with email_split_memo.remembered():
            for _round in range(2):
                for text, answer in zip(texts, expected, strict=True):
                    found = odoo_mail.email_split_tuples(text)
                    self.assertEqual(found, answer, text)
                    found.append(("changed", "by a caller"))  # not the memo's
            self.assertEqual(odoo_mail.email_normalize("Doe <DOE@Example.com>"), "doe@example.com")
        # Outside a batch: Odoo's own function, nothing kept.
        self.assertIsNone(email_split_memo._memo.get())
        self.assertEqual(odoo_mail.email_split(texts[0]), ["john@example.com", "jane@example.com"])

    def test_a_wave_sanitises_an_email_body_once(self):
        from odoo.orm import fields_textual

        count = 6
        self.deliver(
            count,
            lambda n: make_email(
                f"Sanitised once {n}",
                email_from=f"Sender {n} <sender{n}@clean{n}.example>",
                html=f"<p style='color:red'>Hello {n}</p><script>alert({n})</script>",
                message_id=f"<sanitised-once-{n}@clean.example>",
            ),
        )
        original = fields_textual.html_sanitize
        sanitised = []

        def counting(value, *args, **kwargs):
            sanitised.append(str(value))
            return original(value, *args, **kwargs)

        with patch.object(fields_textual, "html_sanitize", counting):
            self.fetch()
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Sanitised once")])
        self.assertEqual(len(tickets), count)
        for ticket in tickets:
            message = ticket.message_ids.filtered(lambda m: m.message_type == "email")
            self.assertNotIn("<script", message.body)
            self.assertNotIn("<script", ticket.description)
            self.assertIn("Hello", str(message.body))
            self.assertEqual(str(message.body), str(ticket.description))
        hello = [value for value in sanitised if "color:red" in value]
        # once for each ticket's description; each message's body is the same value
        self.assertEqual(len(hello), count, hello)
        # the fields keep their definitions
        body = self.env["mail.message"]._fields["body"]
        description = self.env["helpdesk.ticket"]._fields["description"]
        self.assertEqual((body.string, body.sanitize_style), ("Contents", True))
        self.assertEqual((description.required, description.sanitize_style), (True, True))

    def test_wave_memo_answers_as_the_database(self):
        Partner = self.env["res.partner"]
        ana = Partner.create({"name": "Ana", "email": "ana@memo.example"})
        memo = WaveMemo(self.env.cr, {"ir.sequence"})
        memo.scope["partner_emails"] = {"ana@memo.example", "bob@memo.example"}
        memo.remember_existing("res.users", [self.env.ref("base.user_root").id])
        Memo = Partner.with_context(mail_converter_wave_memo=memo)

        def both(emails):
            domain = [("email_normalized", "in", emails)]
            return Memo.search(domain, order="id ASC"), Partner.search(domain, order="id ASC")

        self.assertEqual(*both(["ana@memo.example"]))
        # created, written, archived during the wave: the answer follows
        bob = Memo.create({"name": "Bob", "email": "bob@memo.example"})
        self.assertEqual(*both(["bob@memo.example", "ana@memo.example"]))
        self.assertEqual(both(["bob@memo.example"])[0], bob)
        Memo.browse(bob.id).write({"email": "ana@memo.example"})
        self.assertEqual(both(["ana@memo.example"])[0], ana | bob)
        Memo.browse(ana.id).write({"active": False})
        self.assertEqual(*both(["ana@memo.example"]))
        self.assertEqual(both(["ana@memo.example"])[0], bob)
        # an address outside the wave, another question: asked of the database
        self.assertEqual(*both(["carol@memo.example"]))
        self.assertEqual(Memo.search([("email_normalized", "=", "ana@memo.example")]), bob)
        # a record checked once is not checked again; one never checked is
        Users = self.env["res.users"].with_context(mail_converter_wave_memo=memo)
        with self.assertQueryCount(0):
            self.assertTrue(Users.env.ref("base.user_root"))
        self.assertFalse(Users.browse(999999).exists())
        # a configuration model: the same search answered again until it is written
        Sequence = self.env["ir.sequence"].with_context(mail_converter_wave_memo=memo)
        domain = [("code", "=", "helpdesk.ticket.sequence")]
        first = Sequence.search(domain)
        with self.assertQueryCount(0):
            self.assertEqual(Sequence.search(domain), first)
        Sequence.create({"name": "Memo", "code": "helpdesk.ticket.sequence"})
        self.assertEqual(len(Sequence.search(domain)), len(first) + 1)
        # after the wave it answers nothing
        memo.close()
        bob.write({"email": "bob@memo.example"})
        self.assertEqual(Memo.search([("email_normalized", "in", ["bob@memo.example"])]), bob)

    def test_prefetched_allow_list_answers_as_the_database(self):
        Allowed = self.env["mail.gateway.allowed"]
        Allowed.create([{"email": "robot@loop.example"}, {"email": "Robot <robot@loop.example>"}])
        prefetch = Prefetch()
        Allowed._converter_prefetch_allowed(["robot@loop.example", "human@loop.example"], prefetch)
        prefetched = Allowed.with_context(mail_converter_prefetch=prefetch)
        for email in ("robot@loop.example", "human@loop.example", "other@loop.example"):
            domain = [("email_normalized", "=", email)]
            self.assertEqual(prefetched.search_count(domain), Allowed.search_count(domain), email)
        self.assertEqual(
            prefetched.search_count([("email_normalized", "=", "robot@loop.example")]), 2
        )
        # Another question is asked of the database.
        self.assertEqual(
            prefetched.search_count([("email_normalized", "like", "%@loop.example")]), 2
        )

    def test_prefetched_flag_holders_answer_as_the_database(self):
        Partner = self.env["res.partner"]
        company = Partner.create({"name": "Secret Ltd", "mail_converter_all_private": True})
        employee = Partner.create({"name": "Emp", "email": "emp@secret.example"})
        employee.parent_id = company
        own = Partner.create({"name": "Own", "mail_converter_import_private": True})
        archived = Partner.create({"name": "Gone", "mail_converter_all_private": True})
        archived.active = False
        plain = Partner.create({"name": "Plain", "email": "plain@open.example"})
        everyone = {company.id, employee.id, own.id, archived.id, plain.id}
        Privacy = self.env["mail.converter.privacy"]
        prefetch = Prefetch()
        Privacy._converter_prefetch_flag_holders(everyone | {0}, prefetch)
        prefetched = Privacy.with_context(mail_converter_prefetch=prefetch)
        for ids in (everyone, {plain.id}, {employee.id, plain.id}, {archived.id, own.id}):
            self.assertEqual(
                prefetched._converter_flag_holders(ids), Privacy._converter_flag_holders(ids), ids
            )
        self.assertEqual(prefetched._converter_flag_holders(everyone), company | employee | own)
        # A contact the round did not read is asked of the database.
        later = Partner.create({"name": "Later", "mail_converter_all_private": True})
        self.assertEqual(prefetched._converter_flag_holders({later.id}), later)


def first_wave_result(mock):
    """``(now, later)`` of each call of the spied :func:`tools.waves.first_wave`."""
    for args, _kwargs in mock.call_args_list:
        yield waves.first_wave(*args)


SNAPSHOT_MODELS = (
    "res.partner",
    "helpdesk.ticket",
    "crm.lead",
    "mail.message",
    "mail.mail",
    "mail.followers",
    "mail.notification",
    "mail.activity",
    "mail.tracking.value",
    "mail.converter.log",
    "ir.attachment",
)

# A bounce note says when the mail was returned.
TIME = re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\s?([AP]M)?|\b\d{1,4}[/-]\d{1,2}[/-]\d{1,4}\b")
ID_IN_URL = re.compile(r"(/odoo/[\w.]+/|/web/image/|/web/content/|res_id=|#id=|/my/[\w]+/)\d+")
TOKEN = re.compile(r"access_token=[\w-]+")


def ordered(rows):
    """``rows`` in a stable order, whatever mix of values they hold."""
    return sorted(rows, key=repr)


class Snapshot:
    """What changed since ``before`` (the highest id of each model), with ids replaced by
    labels: a record by the Message-ID of the email that created it, a contact by its address."""

    def __init__(self, env, before):
        self.env = env(su=True, context=dict(env.context, active_test=False))
        self.before = before
        self.labels = {}
        self.numbers = None

    def new(self, model):
        return self.env[model].search([("id", ">", self.before[model])])

    def label(self, record):
        if not record:
            return False
        key = (record._name, record.id)
        if key not in self.labels:
            if record.id <= self.before.get(record._name, 0):
                self.labels[key] = f"{record._name}:existing:{record.display_name}"
            elif record._name == "res.partner":
                self.labels[key] = f"partner:{record.email_normalized or record.name}"
            else:
                log = self.env["mail.converter.log"].search(
                    [("model", "=", record._name), ("res_id", "=", record.id)],
                    order="message_key",
                    limit=1,
                )
                self.labels[key] = f"{record._name}:{log.message_key or record.display_name}"
        return self.labels[key]

    def text(self, value):
        value = str(value or "")
        value = TOKEN.sub("access_token=T", ID_IN_URL.sub(lambda m: m.group(1) + "N", value))
        value = TIME.sub("T", value)
        if self.numbers is None:
            tickets = self.env["helpdesk.ticket"].search([("number", "!=", False)])
            self.numbers = {t.number: self.label(t) for t in tickets}
        for number, label in self.numbers.items():
            value = value.replace(number, label)
        return value

    def record(self, record):
        return (
            f"{record.model}/{self.label(self.env[record.model].browse(record.res_id))}"
            if (record.model and record.res_id)
            else False
        )

    def take(self):
        snap = {}
        snap["res.partner"] = ordered(
            (
                self.label(p),
                p.name,
                p.email,
                self.label(p.parent_id),
                p.company_id.name,
                p.mail_converter_created,
                p.message_bounce,
                p.active,
            )
            for p in self.new("res.partner")
        )
        changed_partners = self.env["res.partner"].search(
            [("id", "<=", self.before["res.partner"]), ("email", "!=", False)]
        )
        snap["existing contacts"] = ordered(
            (p.name, p.email, p.message_bounce) for p in changed_partners
        )
        snap["helpdesk.ticket"] = ordered(
            (
                self.label(t),
                t.name,
                self.text(t.description),
                self.label(t.partner_id),
                t.partner_email,
                t.email_cc,
                t.stage_id.name,
                t.team_id.name,
                t.user_id.login,
                t.priority,
                t.channel_id.name,
                t.company_id.name,
                t.mail_converter_followup,
                t.active,
            )
            for t in self.new("helpdesk.ticket")
        )
        snap["crm.lead"] = ordered(
            (self.label(lead), lead.name, lead.email_from, self.label(lead.partner_id))
            for lead in self.new("crm.lead")
        )
        messages = self.new("mail.message")
        snap["mail.message"] = ordered(
            (
                self.record(m),
                m.message_type,
                m.subtype_id.name,
                self.label(m.author_id),
                m.email_from,
                m.message_id if m.message_type == "email" else "generated",
                m.parent_id.message_id
                if m.parent_id.message_type == "email"
                else bool(m.parent_id),
                m.reply_to,
                self.text(m.subject),
                self.text(m.body),
                m.mail_converter_private,
                tuple(sorted((a.name, a.checksum) for a in m.attachment_ids)),
                tuple(ordered(map(self.label, m.partner_ids))),
            )
            for m in messages
        )
        snap["mail.notification"] = ordered(
            (
                self.record(n.mail_message_id),
                self.text(n.mail_message_id.subject),
                self.label(n.res_partner_id),
                n.notification_type,
                n.is_read,
                n.notification_status,
            )
            for n in self.new("mail.notification")
        )
        snap["mail.followers"] = ordered(
            (
                f"{f.res_model}/{self.label(self.env[f.res_model].browse(f.res_id))}",
                self.label(f.partner_id),
                tuple(sorted(f.subtype_ids.mapped("name"))),
            )
            for f in self.new("mail.followers")
        )
        snap["mail.mail"] = ordered(
            (
                m.email_to,
                self.text(m.subject),
                m.state,
                self.record(m.mail_message_id),
                self.text(m.body_html),
            )
            for m in self.new("mail.mail")
        )
        snap["mail.activity"] = ordered(
            (a.res_model, a.summary, a.user_id.login, a.activity_type_id.name)
            for a in self.new("mail.activity")
        )
        snap["mail.tracking.value"] = ordered(
            (
                self.record(t.mail_message_id),
                t.field_id.name,
                t.old_value_char,
                t.new_value_char,
            )
            for t in self.new("mail.tracking.value")
        )
        snap["mail.converter.log"] = ordered(
            {
                "key": log.message_key,
                "state": log.state,
                "kind": log.kind,
                "reason": self.text(log.reason),
                "record": self.label(self.env[log.model].browse(log.res_id))
                if log.model
                else False,
                "rule": log.rule_id.name,
                "private": log.private,
                "auto_reply": (log.auto_reply_state, self.text(log.auto_reply_reason)),
                "sender_auth": log.sender_auth,
                "links": tuple(
                    ordered(
                        (
                            k.model,
                            self.label(self.env[k.model].browse(k.res_id)),
                            k.role,
                            self.text(k.reason),
                        )
                        for k in log.link_ids
                    )
                ),
            }
            for log in self.new("mail.converter.log")
        )
        return snap

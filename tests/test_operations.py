"""Operations: archive imports, mailbox health and the overview's counts."""

import base64
import io
import json
import mailbox
import os
import shutil
import tempfile
import zipfile
from datetime import timedelta
from unittest.mock import patch

from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged
from odoo.tools.safe_eval import safe_eval

from ..tools.source import Origin
from .common import MailConverterCase, make_email


class WorkerKilled(BaseException):
    """A worker dying mid-batch: not an error the import catches."""


def make_mbox(messages):
    """An mbox as the standard library writes it (mboxo escaping of body ``From `` lines)."""
    directory = tempfile.mkdtemp(prefix="mc-mbox-")
    try:
        path = os.path.join(directory, "export.mbox")
        box = mailbox.mbox(path)
        for raw in messages:
            box.add(raw)
        box.flush()
        box.close()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class ImportCase(MailConverterCase):
    def import_file(self, data, filename, direction="inbound", server=None):
        """Upload ``data`` through the wizard, as an admin does; return the import."""
        wizard = self.env["mail.converter.import"].create(
            {
                "server_id": (server or self.server).id,
                "file": base64.b64encode(data),
                "filename": filename,
                "direction": direction,
            }
        )
        action = wizard.action_import()
        job = self.env[action["res_model"]].browse(action["res_id"])
        self.assertTrue(job.exists())
        return job

    def run_scheduler(self, **context):
        """One run of the import scheduled action, with real (test) commits."""
        try:
            with self.enter_registry_test_mode(), self.registry.cursor() as cr:
                env = self.env(cr=cr, context=dict(self.env.context, **context))
                env["mail.converter.import.job"]._cron_process_imports()
        finally:
            self.env.invalidate_all()

    def counters(self, job):
        return {
            f: job[f]
            for f in ("state", "total", "processed", "converted", "duplicates", "failed", "skipped")
        }


@tagged("post_install", "-at_install", "mail_converter")
class TestImport(ImportCase):
    def test_mbox_of_1000_imported_twice(self):
        # Most of the archive is newsletters a rule discards (cheap); 40 emails open tickets.
        self.env["mail.converter.rule"].search([]).action_archive()
        self.env["mail.converter.rule"].create(
            [
                {
                    "name": "Newsletters",
                    "action": "discard",
                    "sequence": 1,
                    "condition_ids": [
                        fields.Command.create(
                            {"field": "subject", "operator": "starts_with", "value": "Newsletter"}
                        )
                    ],
                },
                {"name": "Tickets", "action": "ticket", "sequence": 2},
            ]
        )
        messages = []
        for n in range(1000):
            subject = f"Import ticket {n}" if n % 25 == 0 else f"Newsletter {n}"
            body = "Hello.\nFrom the archive, a line mboxo escapes.\n"
            messages.append(
                make_email(subject=subject, body=body, message_id=f"<import-{n}@customer.example>")
            )
        data = make_mbox(messages)
        self.assertIn(b"\n>From the archive", data)
        self.server.batch_size = 200

        job = self.import_file(data, "export.mbox")
        self.assertRecordValues(job, [{"state": "queued", "kind": "mbox"}])
        self.run_scheduler()
        self.assertEqual(
            self.counters(job),
            {
                "state": "done",
                "total": 1000,
                "processed": 1000,
                "converted": 40,
                "duplicates": 0,
                "failed": 0,
                "skipped": 960,
            },
        )
        self.assertEqual(job.progress, 100)
        logs = self.logs()
        self.assertEqual(len(logs), 1000)
        self.assertEqual(
            set(logs.mapped("uidl")), {f"import:{job.file_checksum}:{n}" for n in range(1000)}
        )
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Import ticket %")])
        self.assertEqual(len(tickets), 40)
        self.assertIn("From the archive", tickets[0].description, "mbox escaping undone")
        self.assertNotIn(">From", tickets[0].description)
        counts = (
            len(self.env["mail.message"].search([])),
            len(self.env["res.partner"].search([])),
        )

        again = self.import_file(data, "export-copy.mbox")
        self.run_scheduler()
        self.assertEqual(
            self.counters(again),
            {
                "state": "done",
                "total": 1000,
                "processed": 1000,
                "converted": 0,
                "duplicates": 1000,
                "failed": 0,
                "skipped": 0,
            },
        )
        self.assertEqual(again.previous_job_id, job)
        self.assertEqual(len(self.logs()), 1000, "nothing new in the log")
        self.assertEqual(
            len(self.env["helpdesk.ticket"].search([("name", "like", "Import ticket %")])), 40
        )
        self.assertEqual(
            (len(self.env["mail.message"].search([])), len(self.env["res.partner"].search([]))),
            counts,
        )
        self.assertEqual(
            len(self.env["mail.converter.log"].search(job.action_open_logs()["domain"])), 1000
        )

    def test_zip_with_a_broken_entry(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("inbox/1.eml", make_email(subject="Zip one", message_id="<zip-1@x>"))
            zf.writestr(
                "inbox/2.eml",
                make_email(subject="Zip broken", body="BROKEN-MARKER\n", message_id="<zip-2@x>"),
            )
            zf.writestr("inbox/3.eml", b"\x89PNG\r\n\x1a\n not an email at all")
            zf.writestr("inbox/4.eml", make_email(subject="Zip four", message_id="<zip-4@x>"))
            zf.writestr("inbox/notes.txt", b"ignored")
        # A flipped byte in a stored entry: its CRC no longer matches.
        data = buffer.getvalue().replace(b"BROKEN-MARKER", b"BROKEN-MARKEX")

        job = self.import_file(data, "inbox.zip")
        # Small enough to be imported at once, in the request.
        self.assertEqual(
            self.counters(job),
            {
                "state": "done",
                "total": 4,
                "processed": 4,
                "converted": 2,
                "duplicates": 0,
                "failed": 2,
                "skipped": 0,
            },
        )
        self.assertEqual(job.ignored_entries, 1)
        self.assertEqual(len(self.tickets("Zip one")), 1)
        self.assertEqual(len(self.tickets("Zip four")), 1)
        self.assertFalse(self.tickets("Zip broken"))
        broken = self.logs(subject="inbox/2.eml")
        self.assertRecordValues(broken, [{"state": "failed", "direction": "inbound"}])
        self.assertIn("CRC", broken.reason)
        self.assertIn("inbox/2.eml", job.issues)
        junk = self.logs(subject="inbox/3.eml")
        self.assertEqual(junk.state, "failed")
        self.assertIn("not an email", junk.reason)
        self.assertTrue(junk.raw_attachment_id, "what could be read is kept")
        # Importing it again logs nothing new and still reports the broken entries.
        again = self.import_file(data, "inbox.zip")
        self.assertEqual(
            self.counters(again),
            dict(self.counters(job), converted=0, duplicates=2),
        )
        self.assertEqual(len(self.logs()), 4)

    def test_interrupted_import_resumes(self):
        messages = [
            make_email(subject=f"Resume {n}", message_id=f"<resume-{n}@customer.example>")
            for n in range(30)
        ]
        self.server.batch_size = 10
        job = self.import_file(make_mbox(messages), "resume.mbox")
        self.assertEqual(job.state, "queued", "30 messages wait for the scheduler")
        original = type(self.env["mail.converter"])._converter_begin
        calls = []

        def dying(model, raw, source, origin, **kwargs):
            calls.append(origin.uidl)
            if len(calls) == 15:  # in the middle of the second batch
                raise WorkerKilled()
            return original(model, raw, source, origin, **kwargs)

        # Not self.assertRaises: Odoo's rolls back what happened inside it, commits included.
        killed = False
        with patch.object(type(self.env["mail.converter"]), "_converter_begin", dying):
            try:
                self.run_scheduler()
            except WorkerKilled:
                killed = True
        self.assertTrue(killed)
        # The first batch was committed; the second one died with its worker.
        self.assertRecordValues(job, [{"state": "running", "position": 10, "processed": 10}])
        self.assertTrue(job.resume_offset > 0)
        self.assertEqual(len(self.logs()), 10)
        self.assertEqual(
            len(self.env["helpdesk.ticket"].search([("name", "like", "Resume %")])), 10
        )

        # A time budget already spent: one batch, then the rest waits for the next run.
        self.run_scheduler(cron_end_time=1.0)
        self.assertRecordValues(job, [{"state": "running", "position": 20}])
        self.run_scheduler()
        self.assertEqual(
            self.counters(job),
            {
                "state": "done",
                "total": 30,
                "processed": 30,
                "converted": 30,
                "duplicates": 0,
                "failed": 0,
                "skipped": 0,
            },
        )
        tickets = self.env["helpdesk.ticket"].search([("name", "like", "Resume %")])
        self.assertEqual(sorted(tickets.mapped("name")), sorted(f"Resume {n}" for n in range(30)))
        self.assertEqual(len(self.logs()), 30, "each email logged once")

    def test_eml_imported_as_outbound_backlog(self):
        user = self.env.ref("base.user_admin")
        raw = make_email(
            subject="Our offer",
            email_from=user.email,
            to="Bob Buyer <bob@customer.example>",
            message_id="<offer@company.example>",
        )
        self.server.create_outbound_contacts = True
        seen = []
        original = type(self.env["mail.converter"])._converter_begin

        def spy(model, raw, source, origin, **kwargs):
            seen.append(origin)
            return original(model, raw, source, origin, **kwargs)

        with patch.object(type(self.env["mail.converter"]), "_converter_begin", spy):
            job = self.import_file(raw, "offer.eml", direction="outbound")
        self.assertEqual(job.state, "done")
        self.assertTrue(seen[0].backlog, "imported mail is backlog: never acknowledged")
        log = self.logs()
        self.assertRecordValues(log, [{"state": "done", "direction": "outbound"}])
        bob = self.env["res.partner"].search([("email", "=", "bob@customer.example")])
        self.assertTrue(bob, "outbound settings apply: the recipient became a contact")
        self.assertIn(log.mail_message_id, bob.message_ids)

    def test_imported_mail_never_acknowledged(self):
        self.assertTrue(self.server.auto_reply_template_id, "new mailboxes acknowledge tickets")
        raw = make_email(
            subject="Old request",
            email_from="Carla Customer <carla@customer.example>",
            message_id="<old-request@customer.example>",
        )
        job = self.import_file(raw, "old.eml")
        self.assertEqual(job.converted, 1)
        ticket = self.tickets("Old request")
        self.assertEqual(len(ticket), 1)
        self.assertRecordValues(
            self.logs(),
            [
                {
                    "auto_reply_state": "not_sent",
                    "auto_reply_reason": "Backlog (imported from a file)",
                }
            ],
        )
        self.assertFalse(
            self.env["mail.mail"].search(
                [("model", "=", "helpdesk.ticket"), ("res_id", "=", ticket.id)]
            ),
            "no email goes out for the ticket",
        )

    def test_converter_administrator_imports_without_helpdesk_rights(self):
        manager = self.env["res.users"].create(
            {
                "name": "Converter admin",
                "login": "converter_admin",
                "group_ids": [
                    fields.Command.link(
                        self.env.ref("mail_converter.group_mail_converter_manager").id
                    )
                ],
            }
        )
        raw = make_email(subject="Imported by a converter admin", message_id="<by-manager@x>")
        wizard = (
            self.env["mail.converter.import"]
            .with_user(manager)
            .create(
                {"server_id": self.server.id, "file": base64.b64encode(raw), "filename": "a.eml"}
            )
        )
        action = wizard.action_import()
        job = self.env["mail.converter.import.job"].browse(action["res_id"])
        self.assertRecordValues(job, [{"state": "done", "converted": 1, "create_uid": manager.id}])
        self.assertEqual(len(self.tickets("Imported by a converter admin")), 1)
        # Log readers may look at imports, not start them.
        reader = self.env["res.users"].create(
            {
                "name": "Log reader",
                "login": "log_reader",
                "group_ids": [
                    fields.Command.link(self.env.ref("mail_converter.group_mail_converter_user").id)
                ],
            }
        )
        self.assertEqual(job.with_user(reader).converted, 1)
        with self.assertRaises(AccessError):
            self.env["mail.converter.import"].with_user(reader).create(
                {"server_id": self.server.id, "file": base64.b64encode(raw), "filename": "a.eml"}
            )
        with self.assertRaises(AccessError):
            job.with_user(reader).action_cancel()

    def test_unsupported_file_refused(self):
        Job = self.env["mail.converter.import.job"]
        before = Job.search_count([])
        with self.assertRaisesRegex(UserError, "not an email archive"):
            self.import_file(b"%PDF-1.7 ...", "report.pdf")
        self.assertEqual(Job.search_count([]), before)

    def test_not_a_zip_fails_the_import_with_its_reason(self):
        job = self.import_file(b"PK\x03\x04 this is no zip", "broken.zip")
        self.assertEqual(job.state, "failed")
        self.assertIn("zip", job.error)
        job.action_resume()
        self.assertEqual(job.state, "queued")


@tagged("post_install", "-at_install", "mail_converter")
class TestHealth(MailConverterCase):
    def age(self, server, **delta):
        """Pretend the last error happened ``delta`` earlier."""
        server.converter_last_error_date -= timedelta(**delta)

    def test_wrong_password_error_backoff_alert_recovery(self):
        self.server.action_archive()
        broken = self.make_server(password="wrong", check_interval=10)
        admin = self.env.ref("base.user_admin")
        self.append(make_email(subject="Waiting for the password"))

        exception = self.fetch(broken, cron=True)
        self.assertTrue(exception, "returned, never raised out of the cron")
        self.assertIn("AUTHENTICATIONFAILED", broken.converter_last_error)
        self.assertRecordValues(
            broken, [{"converter_failure_count": 1, "converter_health": "failing"}]
        )
        self.assertTrue(broken.converter_last_run)
        self.assertEqual(broken.converter_failing_since, broken.converter_last_error_date)
        # Backoff: the interval, then doubled at each failure, at most 16 times the interval.
        self.assertEqual(broken._converter_backoff(), timedelta(minutes=10))
        self.fetch(broken, cron=True)  # not due yet: not tried
        self.assertEqual(broken.converter_failure_count, 1)
        self.age(broken, minutes=10)
        self.fetch(broken, cron=True)
        self.assertEqual(broken.converter_failure_count, 2)
        self.assertEqual(broken._converter_backoff(), timedelta(minutes=20))
        self.age(broken, minutes=15)
        self.fetch(broken, cron=True)
        self.assertEqual(broken.converter_failure_count, 2, "20 minutes not over")
        self.assertGreater(broken.converter_next_run, fields.Datetime.now())
        expected = [40, 80, 160, 160]
        for minutes in expected:
            self.age(broken, days=1)
            self.fetch(broken, cron=True)
            self.assertEqual(broken._converter_backoff(), timedelta(minutes=minutes))
        self.assertEqual(broken.converter_failure_count, 6)
        self.assertFalse(broken.activity_ids, "no alert before a day of failures")

        # After 24 hours of failures, one to-do for the responsible; never one per run.
        broken.converter_failing_since -= timedelta(hours=24)
        self.age(broken, days=1)
        self.fetch(broken, cron=True)
        self.assertRecordValues(
            broken.activity_ids,
            [
                {
                    "user_id": admin.id,
                    "activity_type_id": self.env.ref("mail.mail_activity_data_warning").id,
                }
            ],
        )
        self.assertIn("AUTHENTICATIONFAILED", str(broken.activity_ids.note))
        self.age(broken, days=1)
        self.fetch(broken, cron=True)
        self.assertEqual(len(broken.activity_ids), 1)
        self.assertTrue(broken.active, "a failing mailbox is never switched off")

        # The password is fixed: the next run works and clears everything.
        broken.password = "support"
        self.assertFalse(self.fetch(broken))
        self.assertRecordValues(
            broken,
            [
                {
                    "converter_last_error": False,
                    "converter_last_error_date": False,
                    "converter_failing_since": False,
                    "converter_failure_count": 0,
                    "converter_health": "ok",
                    "error_message": False,
                }
            ],
        )
        self.assertFalse(broken.activity_ids, "the to-do is done")
        self.assertEqual(len(self.tickets("Waiting for the password")), 1)

    def test_responsible_gets_the_alert(self):
        manager = self.env["res.users"].create(
            {
                "name": "Mailbox keeper",
                "login": "keeper",
                "email": "keeper@company.example",
                "group_ids": [
                    fields.Command.link(
                        self.env.ref("mail_converter.group_mail_converter_manager").id
                    )
                ],
            }
        )
        broken = self.make_server(password="wrong", converter_responsible_id=manager.id)
        broken.converter_failing_since = fields.Datetime.now() - timedelta(days=2)
        self.fetch(broken, cron=True)
        self.assertEqual(broken.activity_ids.user_id, manager)

    def test_next_run_follows_interval_and_scheduler(self):
        cron = self.env.ref("mail.ir_cron_mail_gateway_action")
        now = fields.Datetime.now().replace(microsecond=0)
        cron.write(
            {
                "active": True,
                "nextcall": now + timedelta(minutes=2),
                "interval_number": 5,
                "interval_type": "minutes",
            }
        )
        self.server.write({"check_interval": 0, "converter_last_run": now})
        self.assertEqual(self.server.converter_next_run, now + timedelta(minutes=2))
        self.server.check_interval = 30
        # Due at now + 30 min: the scheduler's first run then is at +32.
        self.assertEqual(self.server.converter_next_run, now + timedelta(minutes=32))
        self.server.action_archive()
        self.assertFalse(self.server.converter_next_run)


@tagged("post_install", "-at_install", "mail_converter")
class TestDashboard(MailConverterCase):
    def test_counts_and_graph_match_the_log(self):
        other = self.make_server(user="sales")
        self.append(make_email(subject="Dash ok 1"))
        self.append(make_email(subject="Dash ok 2"))
        dup = make_email(subject="Dash twice")
        self.append(dup)
        self.append(dup)
        self.append(make_email(subject="Dash fails", message_id="<dash-fail@x>"))
        self.append(make_email(subject="Dash other"), user="sales")
        original = type(self.env["mail.converter"])._convert

        def convert(model, raw, summary, source, origin, log, **kwargs):
            if summary.subject == "Dash fails":
                raise ValueError("boom")
            return original(model, raw, summary, source, origin, log, **kwargs)

        with patch.object(type(self.env["mail.converter"]), "_convert", convert):
            self.fetch()
            self.fetch(other)
        Log = self.env["mail.converter.log"]
        # An old row: in the all-time counts, not in the last 24 hours nor the graph.
        old = self.logs(subject="Dash ok 1")
        self.env.cr.execute(
            "UPDATE mail_converter_log SET create_date = now() - interval '20 days' WHERE id = %s",
            [old.id],
        )
        self.env.invalidate_all()
        for server in (self.server, other):
            logs = Log.search([("server_id", "=", server.id)])
            recent = logs.filtered(
                lambda log: log.create_date >= fields.Datetime.now() - timedelta(hours=24)
            )
            by_state = {
                "done": lambda log: log.state == "done",
                "failed": lambda log: log.state == "failed",
                "other": lambda log: log.state not in ("done", "failed"),
            }
            for key, test in by_state.items():
                self.assertEqual(server[f"converter_{key}_count"], len(logs.filtered(test)), key)
                self.assertEqual(
                    server[f"converter_{key}_count_24h"], len(recent.filtered(test)), key
                )
            # Each link opens exactly the rows it counts.
            for key, state in (("done", "done"), ("failed", "failed"), ("other", "skipped")):
                for period, field in (
                    ("", f"converter_{key}_count"),
                    ("24h", f"converter_{key}_count_24h"),
                ):
                    action = server.with_context(
                        converter_state=state, converter_period=period
                    ).action_open_converter_log()
                    self.assertIn(f"search_default_state_{state}", action["context"])
                    self.assertEqual(bool(period), "search_default_last_24h" in action["context"])
                    domain = action["domain"] + self._filter_domain(f"state_{state}")
                    if period:
                        domain += self._filter_domain("last_24h")
                    self.assertEqual(Log.search_count(domain), server[field], (state, period))
            graph = json.loads(server.converter_graph)
            self.assertEqual(len(graph["labels"]), 14)
            totals = {s["key"]: sum(s["values"]) for s in graph["series"]}
            self.assertEqual(
                totals,
                {
                    "done": server.converter_done_count_24h,
                    "failed": server.converter_failed_count_24h,
                    "other": server.converter_other_count_24h,
                },
            )
        self.assertEqual(
            (self.server.converter_done_count, self.server.converter_done_count_24h), (3, 2)
        )
        self.assertEqual(self.server.converter_failed_count, 1)
        self.assertEqual(self.server.converter_other_count, 1)
        self.assertEqual(other.converter_done_count, 1)

    def test_overview_readable_by_converter_administrators(self):
        manager = self.env["res.users"].create(
            {
                "name": "Overview reader",
                "login": "overview_reader",
                "group_ids": [
                    fields.Command.link(
                        self.env.ref("mail_converter.group_mail_converter_manager").id
                    )
                ],
            }
        )
        view = self.env.ref("mail_converter.mail_converter_dashboard_view_kanban")
        names = set(etree.fromstring(view.arch).xpath("//field/@name"))
        self.assertIn("converter_graph", names)
        Server = self.env["fetchmail.server"].with_user(manager)
        (values,) = Server.search([("id", "=", self.server.id)]).read(sorted(names))
        self.assertEqual(values["converter_health"], "ok")
        self.assertEqual(len(json.loads(values["converter_graph"])["labels"]), 14)
        with self.assertRaises(AccessError):
            self.server.with_user(manager).read(["password"])

    def _filter_domain(self, name):
        """The domain of a filter of the log's search view, as the web client applies it."""
        arch = self.env.ref("mail_converter.mail_converter_log_view_search").arch
        node = etree.fromstring(arch).xpath(f"//filter[@name='{name}']")[0]
        return safe_eval(node.get("domain"))

    def test_simulator_takes_converted_emails_when_originals_are_kept(self):
        self.server.original = True
        self.append(make_email(subject="Keep my source", message_id="<keep@x>"))
        self.fetch()
        log = self.logs()
        self.assertEqual(log.state, "done")
        self.assertTrue(log.raw_attachment_id)
        simulator = self.env["mail.converter.simulator"].create(
            {"server_id": self.server.id, "log_id": log.id}
        )
        self.assertIn(
            log, self.env["mail.converter.log"].search(simulator._fields["log_id"].domain)
        )
        simulator.action_simulate()
        self.assertEqual(simulator.plan_state, "discarded", "already in Odoo now")
        self.assertIn("Already in Odoo", simulator.outcome)
        # Without Keep Original only failed emails keep theirs.
        self.server.original = False
        self.append(make_email(subject="Forget my source", message_id="<forget@x>"))
        self.fetch()
        self.assertFalse(self.logs(subject="Forget my source").raw_attachment_id)


@tagged("post_install", "-at_install", "mail_converter")
class TestOperationsUi(HttpCase):
    def test_overview_failed_link_and_retry_tour(self):
        self.env["fetchmail.server"].search([]).action_archive()
        server = self.env["fetchmail.server"].create(
            {
                "name": "Tour mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": "support",
                "password": "support",
                "use_converter": True,
                "state": "done",
                "object_id": self.env["ir.model"]._get("helpdesk.ticket").id,
                "converter_last_error": "Server down for maintenance",
                "converter_last_error_date": fields.Datetime.now(),
                "converter_failing_since": fields.Datetime.now(),
                "converter_failure_count": 1,
            }
        )
        raw = make_email(subject="Tour retry me", message_id="<tour-retry@customer.example>")
        with patch.object(
            type(self.env["mail.converter"]), "_convert", side_effect=RuntimeError("database busy")
        ):
            log = self.env["mail.converter"]._process(
                raw, server._converter_source(), Origin(uidl="tour:1", backlog=True)
            )
        self.assertEqual(log.state, "failed")
        attachment = self.env["ir.attachment"].create(
            {"name": "tour-export.mbox", "raw": b"From a@b Mon Jan  1 00:00:00 2024\n" + raw}
        )
        job = self.env["mail.converter.import.job"]._import_create(server, attachment)
        job._import_run(commit=False)
        self.assertEqual(job.state, "done")
        self.start_tour(
            "/odoo/action-mail_converter.action_mail_converter_overview",
            "mail_converter_operations",
            login="admin",
        )
        self.assertEqual(log.state, "done")
        self.assertEqual(
            len(self.env["helpdesk.ticket"].search([("name", "=", "Tour retry me")])), 1
        )

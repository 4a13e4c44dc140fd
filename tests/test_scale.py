"""Scale: quiet mailboxes cost nothing in the database; worker processes share mailboxes."""

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.models import BaseModel
from odoo.modules.registry import Registry
from odoo.sql_db import Cursor
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import config

from .common import MAILBOX_USERS, MailConverterCase, free_port_base, make_email
from .dovecot import Dovecot

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install", "mail_converter")
class TestIdlePoll(MailConverterCase):
    def test_quiet_mailboxes_cost_one_login_and_no_write(self):
        quiet = [self.make_server(user=user) for user in ("sales", "archive")]
        servers = self.server.browse([self.server.id] + [s.id for s in quiet])
        self.append(make_email(subject="Only mail of the day"))
        self.fetch(servers)  # the first run converts it and records each folder's UIDVALIDITY
        logins = {user: self.accounts[user].logins for user in ("support", "sales", "archive")}
        writes = []
        original = Cursor.execute

        def execute(cr, query, params=None, log_exceptions=True):
            text = (query.code if hasattr(query, "code") else str(query)).lstrip().upper()
            if text.startswith(("INSERT", "UPDATE", "DELETE")):
                writes.append(text[:60])
            return original(cr, query, params, log_exceptions)

        with patch.object(Cursor, "execute", execute):
            self.fetch(servers)
        self.assertEqual(writes, [], "a poll that finds nothing writes nothing")
        for user, before in logins.items():
            self.assertEqual(self.accounts[user].logins, before + 1, f"{user}: one login per poll")
        self.assertEqual(len(self.logs()), 1)

    def test_run_reads_alias_domains_and_field_descriptions_once(self):
        for i in range(3):
            self.append(make_email(subject=f"Run cache {i}"))
        queries, described = [], []
        original_execute, original_fields_get = Cursor.execute, BaseModel.fields_get

        def execute(cr, query, params=None, log_exceptions=True):
            text = query.code if hasattr(query, "code") else str(query)
            if 'FROM "mail_alias_domain"' in text:
                queries.append(text)
            return original_execute(cr, query, params, log_exceptions)

        def fields_get(model, allfields=None, attributes=None):
            if model._name == "helpdesk.ticket" and allfields is None:
                described.append(model._name)
            return original_fields_get(model, allfields, attributes)

        with (
            patch.object(Cursor, "execute", execute),
            patch.object(BaseModel, "fields_get", fields_get),
        ):
            self.fetch()
        self.assertEqual(
            len(self.env["helpdesk.ticket"].search([("name", "like", "Run cache")])), 3
        )
        # Two shapes (all of them, the default one), each read once for the three emails.
        self.assertLessEqual(len(queries), 2, "alias domains: per run, not per email")
        self.assertEqual(described, ["helpdesk.ticket"], "field descriptions: once per run")

    def test_contact_claims_are_forgotten_after_a_day(self):
        Claim = self.env["mail.converter.contact.claim"]
        Claim._converter_claim({"old@claims.example", "new@claims.example"})
        self.env.cr.execute(
            "UPDATE mail_converter_contact_claim SET claimed_on = claimed_on - interval '2 days' "
            "WHERE email = 'old@claims.example'"
        )
        Claim._converter_claim({"new@claims.example"})  # claimed again: still one row
        Claim._gc_claims()
        self.assertEqual(
            Claim.search([("email", "like", "@claims.example")]).mapped("email"),
            ["new@claims.example"],
        )

    def test_parallel_worker_job_reads_due_mailboxes(self):
        worker = self.env.ref("mail_converter.ir_cron_mail_converter_worker")
        self.assertFalse(worker.active, "off until an admin has more than one cron worker")
        self.append(make_email(subject="Read by the second worker"))
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            env = self.env(cr=cr, context=dict(self.env.context, cron_id=worker.id))
            env["fetchmail.server"]._cron_converter_worker()
        self.env.invalidate_all()
        self.assertEqual(len(self.tickets("Read by the second worker")), 1)


@tagged("post_install", "-at_install", "mail_converter")
class TestBacklogRanges(MailConverterCase):
    """A backlog larger than one range is cut into UID ranges that any worker can take."""

    def setUp(self):
        super().setUp()
        self.server.batch_size = 2  # ranges of 2 messages
        self.folder = self.server.converter_folder_ids
        self.subjects = [f"Backlog {i}" for i in range(9)]
        for subject in self.subjects:
            self.append(make_email(subject=subject))

    def ranges(self):
        return self.env["mail.converter.folder.range"].search([("folder_id", "=", self.folder.id)])

    def assertAllConvertedOnce(self):
        for subject in self.subjects:
            self.assertEqual(len(self.tickets(subject)), 1, subject)
        self.assertEqual(sorted(self.logs().mapped("state")), ["done"] * len(self.subjects))
        self.assertFalse(self.ranges())
        self.assertEqual(self.folder.last_uid, 9)

    def test_backlog_is_split_and_converted(self):
        self.fetch()
        self.assertAllConvertedOnce()
        self.append(make_email(subject="After the backlog"))
        self.fetch()
        self.assertEqual(len(self.tickets("After the backlog")), 1, "new mail after the ranges")

    def test_range_left_by_a_stopped_worker_is_taken_next_run(self):
        # A spent budget: one batch of the first range, then the worker stops mid-range.
        Folder = type(self.folder)
        with (
            patch.object(Folder, "_converter_time_is_up", lambda _self: True),
            patch.object(Folder, "_converter_range_size", lambda _self: 4),
        ):
            self.fetch()
        converted = [s for s in self.subjects if self.tickets(s)]
        self.assertEqual(len(converted), 2, "one batch of the first range")
        self.assertEqual(
            [(r.uid_from, r.uid_to, r.message_count) for r in self.ranges()],
            [(1, 4, 4), (5, 8, 4), (9, 9, 1)],
        )
        self.assertEqual(self.folder.last_uid, 9, "the next poll starts after the ranges")
        self.assertEqual(self.folder.backlog_count, 9)
        self.fetch()
        self.assertAllConvertedOnce()

    def test_worker_helping_a_locked_mailbox_takes_only_ranges(self):
        uidvalidity = self.accounts["support"].folder("INBOX").uidvalidity
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            folder = self.folder.with_env(self.folder.env(cr=cr))
            folder.uidvalidity = uidvalidity
            folder._converter_split(list(range(1, 10)), uidvalidity)
        self.append(make_email(subject="New while the mailbox is held"))
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            server = self.server.with_env(self.server.env(cr=cr))
            self.assertTrue(server._converter_has_ranges())
            server._converter_help()
        self.env.invalidate_all()
        self.assertAllConvertedOnce()
        self.assertFalse(
            self.tickets("New while the mailbox is held"), "new mail is the holder's work"
        )
        self.fetch()
        self.assertEqual(len(self.tickets("New while the mailbox is held")), 1)


WORKER = """
import json, logging, sys, time
import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config
config.parse_config(json.loads(sys.argv[1]))
registry = Registry(sys.argv[2])
index = int(sys.argv[3])
ranges, collisions = [], []
class Ranges(logging.Handler):
    def emit(self, record):
        if "converted (" in record.getMessage():
            ranges.append(record.getMessage())
        if "collided" in record.getMessage():
            collisions.append(record.getMessage())
logger = logging.getLogger("odoo.addons.mail_converter")
logger.addHandler(Ranges(logging.INFO))
logger.setLevel(logging.INFO)
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    time.sleep(0.05)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        servers = env["fetchmail.server"].search([("name", "like", "scale %")], order="id")
        # Workers start on different mailboxes, as scheduler workers taking turns would.
        servers = servers[index:] + servers[:index]
        servers._fetch_mail()
        cr.execute("SELECT count(*) FROM mail_converter_log WHERE server_id = ANY(%s)", [servers.ids])
        if cr.fetchone()[0] >= int(sys.argv[4]):
            break
print(json.dumps({"ranges": len(ranges), "collisions": len(collisions)}))
"""


@tagged("post_install", "-at_install", "mail_converter")
class TestWorkerProcesses(BaseCase):
    """Two Odoo processes on four mailboxes, with real commits: nothing converted twice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        directory = tempfile.mkdtemp(prefix="mc-dovecot-")
        cls.users = ("support", "sales", "archive", "extra")
        cls.dovecot = Dovecot(directory, free_port_base(), MAILBOX_USERS + ("extra",)).start()
        cls.addClassCleanup(shutil.rmtree, directory, ignore_errors=True)
        cls.addClassCleanup(cls.dovecot.stop)

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def setUp(self):
        super().setUp()
        self.server_ids = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env["mail.converter.log"].search([("server_id", "in", self.server_ids)]).unlink()
            env["helpdesk.ticket"].search([("name", "like", "Scale %")]).unlink()
            env["fetchmail.server"].browse(self.server_ids).unlink()

    def _make_server(self, env, user, **values):
        self.dovecot.reset_user(user)
        server = env["fetchmail.server"].create(
            {
                "name": f"scale {user}",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": self.dovecot.imap_port,
                "is_ssl": False,
                "verify_tls": False,
                "user": user,
                "password": user,
                "use_converter": True,
                "object_id": env["ir.model"]._get("helpdesk.ticket").id,
                "state": "done",
                **values,
            }
        )
        self.server_ids.append(server.id)
        return server

    def _run_workers(self, expected, count=2):
        """Run ``count`` worker processes until ``expected`` log rows; their outputs."""
        options = [
            f"--addons-path={config['addons_path'] if isinstance(config['addons_path'], str) else ','.join(config['addons_path'])}"
        ]
        for key in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(key):
                options.append(f"--{key}={config[key]}")
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(options), get_db_name(), str(i)]
                + [str(expected)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(os.environ),
            )
            for i in range(count)
        ]
        outputs = []
        for worker in workers:
            out, err = worker.communicate(timeout=600)
            self.assertEqual(worker.returncode, 0, err[-3000:])
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        return outputs

    def _converted(self, subjects):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            counts = {s: env["helpdesk.ticket"].search_count([("name", "=", s)]) for s in subjects}
            logs = env["mail.converter.log"].search([("server_id", "in", self.server_ids)])
            return counts, sorted(logs.mapped("state"))

    def test_two_processes_four_mailboxes(self):
        subjects = []
        with self.registry.cursor() as cr:
            env = self._env(cr)
            for user in self.users:
                self._make_server(env, user)
                for i in range(6):
                    subject = f"Scale {user} {i}"
                    subjects.append(subject)
                    self.dovecot.append(user, make_email(subject=subject))
        # The same email in two mailboxes is still converted once.
        shared = make_email(subject="Scale shared", message_id="<scale-shared@customer.example>")
        self.dovecot.append("support", shared)
        self.dovecot.append("extra", shared)
        subjects.append("Scale shared")
        self._run_workers(len(subjects) + 1)  # the shared email's second copy is a duplicate row
        counts, states = self._converted(subjects)
        self.assertEqual(set(counts.values()), {1}, counts)
        self.assertEqual(states, ["done"] * len(subjects) + ["duplicate"])

    def test_two_processes_share_one_folder_backlog(self):
        subjects = [f"Scale backlog {i}" for i in range(40)]
        # Each unknown sender writes four emails: two neighbouring ranges, read at the same time.
        senders = [f"sender{i // 4}@race.example" for i in range(40)]
        with self.registry.cursor() as cr:
            server = self._make_server(self._env(cr), "support", batch_size=2)
            for subject, sender in zip(subjects, senders, strict=True):
                self.dovecot.append("support", make_email(subject=subject, email_from=sender))
            folder = server.converter_folder_ids
        outputs = self._run_workers(len(subjects))
        counts, states = self._converted(subjects)
        self.assertEqual(set(counts.values()), {1}, counts)
        self.assertEqual(states, ["done"] * len(subjects))
        ranges = [output["ranges"] for output in outputs]
        _logger.info(
            "Backlog shared by two workers: ranges %s, collisions %s",
            ranges,
            [o["collisions"] for o in outputs],
        )
        self.assertEqual(sum(ranges), 20, "40 messages in ranges of 2")
        self.assertTrue(all(ranges), f"both workers took ranges: {ranges}")
        with self.registry.cursor() as cr:
            env = self._env(cr)
            folder = folder.with_env(env)
            self.assertEqual(folder.last_uid, 40)
            self.assertFalse(folder.backlog_count)
            contacts = {
                sender: env["res.partner"].search_count([("email", "=", sender)])
                for sender in set(senders)
            }
            env["res.partner"].search([("email", "like", "@race.example")]).unlink()
        self.assertEqual(set(contacts.values()), {1}, f"one contact per sender: {contacts}")

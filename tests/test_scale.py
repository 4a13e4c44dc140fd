"""Scale: quiet mailboxes cost nothing in the database; worker processes share mailboxes."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.sql_db import Cursor
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import config

from .common import MAILBOX_USERS, MailConverterCase, free_port_base, make_email
from .dovecot import Dovecot


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

    def test_parallel_worker_job_reads_due_mailboxes(self):
        worker = self.env.ref("mail_converter.ir_cron_mail_converter_worker")
        self.assertFalse(worker.active, "off until an admin has more than one cron worker")
        self.append(make_email(subject="Read by the second worker"))
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            env = self.env(cr=cr, context=dict(self.env.context, cron_id=worker.id))
            env["fetchmail.server"]._cron_converter_worker()
        self.env.invalidate_all()
        self.assertEqual(len(self.tickets("Read by the second worker")), 1)


WORKER = """
import json, sys
import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config
config.parse_config(json.loads(sys.argv[1]))
registry = Registry(sys.argv[2])
index = int(sys.argv[3])
for _round in range(30):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        servers = env["fetchmail.server"].search([("name", "like", "scale %")], order="id")
        # Workers start on different mailboxes, as scheduler workers taking turns would.
        servers = servers[index:] + servers[:index]
        servers._fetch_mail()
        cr.execute("SELECT count(*) FROM mail_converter_log WHERE server_id = ANY(%s)", [servers.ids])
        if cr.fetchone()[0] >= int(sys.argv[4]):
            break
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

    def test_two_processes_four_mailboxes(self):
        subjects = []
        with self.registry.cursor() as cr:
            env = self._env(cr)
            for user in self.users:
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
                    }
                )
                self.server_ids.append(server.id)
                for i in range(6):
                    subject = f"Scale {user} {i}"
                    subjects.append(subject)
                    self.dovecot.append(user, make_email(subject=subject))
        # The same email in two mailboxes is still converted once.
        shared = make_email(subject="Scale shared", message_id="<scale-shared@customer.example>")
        self.dovecot.append("support", shared)
        self.dovecot.append("extra", shared)
        subjects.append("Scale shared")
        options = [
            f"--addons-path={config['addons_path'] if isinstance(config['addons_path'], str) else ','.join(config['addons_path'])}"
        ]
        for key in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(key):
                options.append(f"--{key}={config[key]}")
        expected = len(subjects) + 1  # the shared email's second copy is a duplicate row
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WORKER,
                    json.dumps(options),
                    get_db_name(),
                    str(i),
                    str(expected),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(os.environ),
            )
            for i in range(2)
        ]
        for worker in workers:
            _out, err = worker.communicate(timeout=600)
            self.assertEqual(worker.returncode, 0, err[-3000:])
        with self.registry.cursor() as cr:
            env = self._env(cr)
            counts = {s: env["helpdesk.ticket"].search_count([("name", "=", s)]) for s in subjects}
            logs = env["mail.converter.log"].search([("server_id", "in", self.server_ids)])
            states = sorted(logs.mapped("state"))
        self.assertEqual(set(counts.values()), {1}, counts)
        self.assertEqual(states, ["done"] * len(subjects) + ["duplicate"])

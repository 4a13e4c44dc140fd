"""Mail in seconds: the IMAP IDLE listener on a real Dovecot, and the MTA pipe over real HTTP."""

import imaplib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import BaseCase, HttpCase, new_test_user, tagged
from odoo.tests.common import get_db_name

from ..services.instant_listener import InstantListener
from ..tools import idle
from .common import (
    MAILBOX_USERS,
    MailConverterDovecotCase,
    make_email,
    start_dovecot,
)

MAILGATE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "scripts", "mail_converter_mailgate.py"
)


def wait_for(what, predicate, timeout=30.0):
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@tagged("post_install", "-at_install", "mail_converter")
class TestInstantListener(BaseCase):
    """The listener runs in threads of the test process on committed data, as it would in
    ``odoo-bin mail_converter_idle``; the triggered job is run as the scheduler would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        start_dovecot(cls)

    def setUp(self):
        super().setUp()
        for user in MAILBOX_USERS:
            self.dovecot.reset_user(user)
        self.server_ids = []
        self.addCleanup(self._cleanup)
        # The test runner holds the registry lock; the listener's threads open cursors.
        patcher = patch.object(Registry, "_lock", DummyRLock())
        patcher.start()
        self.addCleanup(patcher.stop)

    def _env(self, cr):
        return api.Environment(
            cr, SUPERUSER_ID, {"mail_create_nolog": True, "tracking_disable": True}
        )

    def _make_server(self, user="support"):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            server = env["fetchmail.server"].create(
                {
                    "name": f"instant {user}",
                    "server_type": "imap",
                    "server": "127.0.0.1",
                    "port": self.dovecot.imap_port,
                    "is_ssl": False,
                    "user": user,
                    "password": user,
                    "use_converter": True,
                    "converter_instant": True,
                    "object_id": env["ir.model"]._get("helpdesk.ticket").id,
                    "state": "done",
                }
            )
            env["mail.converter.instant.signal"].search([]).unlink()
        self.server_ids.append(server.id)
        return server.id

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env["helpdesk.ticket"].search([("name", "like", "Instant %")]).unlink()
            env["mail.converter.log"].search([("server_id", "in", self.server_ids)]).unlink()
            env["fetchmail.server"].browse(self.server_ids).unlink()

    def _start(self, name):
        listener = InstantListener(get_db_name(), rescan=0.2, name=name)
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()

        def finish():
            stop.set()
            thread.join(30)

        self.addCleanup(finish)
        return listener, finish

    def _read(self, server_id):
        """The mailbox's listener health, signals and the instant job's pending triggers."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            server = env["fetchmail.server"].browse(server_id)
            cron = env.ref("mail_converter.ir_cron_mail_converter_instant")
            return {
                "state": server.converter_instant_state,
                "host": server.converter_instant_host,
                "signals": env["mail.converter.instant.signal"].search_count(
                    [("server_id", "=", server_id)]
                ),
                "triggers": env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]),
            }

    def _run_instant_job(self):
        with self.registry.cursor() as cr:
            self._env(cr).ref(
                "mail_converter.ir_cron_mail_converter_instant"
            ).method_direct_trigger()

    def _tickets(self, subject):
        with self.registry.cursor() as cr:
            return self._env(cr)["helpdesk.ticket"].search_count([("name", "=", subject)])

    def _clear_signals(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env["mail.converter.instant.signal"].search([]).unlink()
            cron = env.ref("mail_converter.ir_cron_mail_converter_instant")
            env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()

    def _deliver_and_convert(self, server_id, subject):
        """Append a message; the listener's trigger shows up; the triggered job makes the ticket."""
        self._clear_signals()
        self.dovecot.append("support", make_email(subject=subject))
        wait_for("the listener's trigger", lambda: self._read(server_id)["triggers"], 15)
        self.assertTrue(self._read(server_id)["signals"])
        self.assertEqual(self._tickets(subject), 0, "nothing is converted by the listener itself")
        self._run_instant_job()
        self.assertEqual(self._tickets(subject), 1)
        self.assertEqual(self._read(server_id)["signals"], 0)

    def test_idle_session_on_dovecot(self):
        """The IDLE client: quiet waits time out empty, an APPEND is seen as EXISTS, DONE ends it."""
        client = imaplib.IMAP4("127.0.0.1", self.dovecot.imap_port)
        client.login("support", "support")
        idle.unbuffer(client)
        self.assertIn("IDLE", idle.capabilities(client))
        typ, data = client.select("INBOX", readonly=True)
        count = int(data[0])
        session = idle.IdleSession(client)
        session.start()
        self.assertEqual(session.wait(0.3), [])
        self.dovecot.append("support", make_email(subject="Instant raw idle"))
        lines = wait_for("EXISTS", lambda: session.wait(1), 10)
        self.assertEqual(idle.count_after(lines, count), (count + 1, True))
        session.done()
        self.assertEqual(client.noop()[0], "OK")
        client.logout()

    def test_watcher_reissues_idle_and_stops_cleanly(self):
        arrivals, states = [], []
        stop = threading.Event()

        def connect():
            client = imaplib.IMAP4("127.0.0.1", self.dovecot.imap_port)
            client.login("support", "support")
            return client

        thread = threading.Thread(
            target=idle.watch_folder,
            args=(connect, "INBOX", lambda: arrivals.append(1), stop),
            kwargs={"on_state": lambda state, error: states.append(state), "reissue": 0.3},
        )
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(stop.set)
        wait_for("watching", lambda: idle.STATE_WATCHING in states)
        time.sleep(1.5)  # several IDLE ... DONE rounds on the same connection
        self.dovecot.append("support", make_email(subject="Instant reissued"))
        wait_for("the arrival", lambda: arrivals, 10)
        stop.set()
        thread.join(10)
        self.assertFalse(thread.is_alive())
        self.assertEqual(states, [idle.STATE_WATCHING, idle.STATE_STOPPED])
        self.assertEqual(len(arrivals), 1)

    def test_new_mail_becomes_ticket_without_scheduler(self):
        server_id = self._make_server()
        listener, _finish = self._start("listener-a")
        wait_for("watching", lambda: self._read(server_id)["state"] == "watching")
        self.assertEqual(self._read(server_id)["host"], "listener-a")
        self._deliver_and_convert(server_id, "Instant hello")
        # A second message: the same connection, still in IDLE, sees it too.
        self._deliver_and_convert(server_id, "Instant again")
        self.assertEqual(list(listener.watches), [server_id])

    def test_quiet_mailbox_writes_nothing(self):
        server_id = self._make_server()
        self._start("listener-a")
        wait_for("watching", lambda: self._read(server_id)["state"] == "watching")
        with self.registry.cursor() as cr:
            row = self._env(cr)["mail.converter.listener"].search([("server_id", "=", server_id)])
            written = row.write_date
        time.sleep(2)  # a quiet period: ten rescans, IDLE waiting
        with self.registry.cursor() as cr:
            row = self._env(cr)["mail.converter.listener"].search([("server_id", "=", server_id)])
            self.assertEqual(row.write_date, written)
        self.assertEqual(self._read(server_id)["signals"], 0)

    def test_survives_dovecot_restart(self):
        server_id = self._make_server()
        self._start("listener-a")
        wait_for("watching", lambda: self._read(server_id)["state"] == "watching")
        self.dovecot.stop()
        wait_for("reconnecting", lambda: self._read(server_id)["state"] == "reconnecting")
        self.dovecot.start()
        wait_for("watching again", lambda: self._read(server_id)["state"] == "watching", 60)
        self._deliver_and_convert(server_id, "Instant after restart")

    def test_two_listeners_one_mailbox(self):
        server_id = self._make_server()
        first, stop_first = self._start("listener-a")
        wait_for("watching", lambda: self._read(server_id)["state"] == "watching")
        second, _finish = self._start("listener-b")
        time.sleep(1)  # five scans of the second listener: it must stay on standby
        self.assertEqual(list(first.watches), [server_id])
        self.assertEqual(second.watches, {})
        self.assertEqual(self._read(server_id)["host"], "listener-a")
        stop_first()
        wait_for(
            "the standby to take over",
            lambda: (
                self._read(server_id)["host"] == "listener-b"
                and self._read(server_id)["state"] == "watching"
            ),
        )
        self.assertEqual(list(second.watches), [server_id])
        self._deliver_and_convert(server_id, "Instant takeover")


@tagged("post_install", "-at_install", "mail_converter")
class TestInstantPipe(MailConverterDovecotCase, HttpCase):
    """The real script, fed by a shell pipe as Postfix's pipe transport does, posting over HTTP."""

    SECRET = "s3cret-pipe"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server.sudo().converter_pipe_secret = cls.SECRET

    def pipe(self, raw, secret=None, url=None, mailbox=None):
        """``cat email | mail_converter_mailgate.py ...``; return (exit status, output)."""
        path = os.path.join(tempfile.mkdtemp(prefix="mc-pipe-"), "mail.eml")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), ignore_errors=True)
        with open(path, "wb") as fh:
            fh.write(raw)
        command = (
            f"cat {path} | {sys.executable} {MAILGATE} --url {url or self.base_url()}"
            f" --mailbox {mailbox or self.server.id} --database {get_db_name()} --timeout 60"
        )
        env = dict(os.environ, MAIL_CONVERTER_SECRET=secret or self.SECRET)
        self.env.flush_all()  # the HTTP worker shares this test transaction
        with self.allow_requests(all_requests=True):
            done = subprocess.run(
                command, shell=True, env=env, capture_output=True, timeout=120, check=False
            )
        self.env.invalidate_all()
        return done.returncode, (done.stdout + done.stderr).decode()

    def test_pipe_secret_is_for_settings_admins(self):
        manager = new_test_user(
            self.env,
            login="pipe_manager",
            groups="base.group_user,mail_converter.group_mail_converter_manager",
        )
        server = self.server.with_user(manager)
        self.assertTrue(server.name)
        with self.assertRaises(AccessError):
            server.read(["converter_pipe_secret"])
        with self.assertRaises(AccessError):
            server.action_converter_pipe_secret()

    def test_good_secret_converts(self):
        status, output = self.pipe(make_email(subject="Piped printer"))
        self.assertEqual(status, 0, output)
        self.assertEqual(len(self.tickets("Piped printer")), 1)
        self.assertEqual(self.logs().mapped("state"), ["done"])

    def test_wrong_secret_refused(self):
        status, output = self.pipe(make_email(subject="Piped intruder"), secret="guess")
        self.assertEqual(status, 77, output)
        self.assertFalse(self.tickets("Piped intruder"))
        self.assertFalse(self.logs())
        # An unknown mailbox answers the same, so probing tells nothing.
        status, _output = self.pipe(make_email(subject="Piped intruder"), mailbox=999999)
        self.assertEqual(status, 77)

    def test_piped_twice_or_piped_and_fetched_converted_once(self):
        raw = make_email(subject="Piped twice")
        self.assertEqual(self.pipe(raw)[0], 0)
        self.assertEqual(self.pipe(raw)[0], 0)
        self.assertEqual(len(self.tickets("Piped twice")), 1)
        self.assertEqual(self.logs().mapped("state"), ["done"])
        # The same email also reaches the mailbox on the IMAP server.
        self.append(raw)
        self.server._fetch_mail()
        self.env.invalidate_all()
        self.assertEqual(len(self.tickets("Piped twice")), 1)
        self.assertEqual(sorted(self.logs().mapped("state")), ["done", "duplicate"])

    def test_too_large_is_capped(self):
        self.server.converter_max_size = 1
        raw = make_email(subject="Piped huge", body="x" * (1024 * 1024 + 10) + "\n")
        status, output = self.pipe(raw)
        self.assertEqual(status, 65, output)
        self.assertFalse(self.tickets("Piped huge"))
        log = self.logs()
        self.assertEqual((log.state, log.too_large), ("rejected", True))

    def test_unreachable_odoo_is_a_temporary_failure(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # closed again before the script connects
        status, output = self.pipe(
            make_email(subject="Piped nowhere"), url=f"http://127.0.0.1:{port}"
        )
        self.assertEqual(status, 75, output)
        self.assertFalse(self.logs())

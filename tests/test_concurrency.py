"""Two workers at once, with real committed transactions (not the test's shared one)."""

import threading
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name

from .common import MAILBOX_USERS, make_email, start_dovecot


@tagged("post_install", "-at_install", "mail_converter")
class TestConcurrency(BaseCase):
    """Uses its own committed data; it writes nothing in a shared test transaction
    so the worker threads can never wait on it."""

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

    def _env(self, cr):
        return api.Environment(
            cr, SUPERUSER_ID, {"mail_create_nolog": True, "tracking_disable": True}
        )

    def _make_server(self, user):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            server = env["fetchmail.server"].create(
                {
                    "name": f"concurrent {user}",
                    "server_type": "imap",
                    "server": "127.0.0.1",
                    "port": self.dovecot.imap_port,
                    "is_ssl": False,  # plain IMAP on loopback; new mailboxes default to SSL
                    "user": user,
                    "password": user,
                    "use_converter": True,
                    "object_id": env["ir.model"]._get("helpdesk.ticket").id,
                    "state": "done",
                }
            )
        self.server_ids.append(server.id)
        return server.id

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            logs = env["mail.converter.log"].search([("server_id", "in", self.server_ids)])
            tickets = env["helpdesk.ticket"].search([("name", "like", "Concurrent %")])
            tickets.unlink()
            logs.unlink()
            env["fetchmail.server"].browse(self.server_ids).unlink()

    def _run_in_threads(self, server_ids):
        barrier = threading.Barrier(len(server_ids))
        errors = []

        def work(server_id):
            try:
                with self.registry.cursor() as cr:
                    env = self._env(cr)
                    barrier.wait(timeout=10)
                    error = env["fetchmail.server"].browse(server_id)._converter_fetch()
                    if error:
                        errors.append(error)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(sid,)) for sid in server_ids]
        # The test runner holds the registry lock while tests run; the workers
        # would wait on it forever when they build their environments.
        with patch.object(Registry, "_lock", DummyRLock()):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(errors)
        self.assertFalse(any(t.is_alive() for t in threads), "a worker hung")

    def _state(self, subjects):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            counts = {s: env["helpdesk.ticket"].search_count([("name", "=", s)]) for s in subjects}
            logs = env["mail.converter.log"].search([("server_id", "in", self.server_ids)])
            return counts, sorted(logs.mapped("state"))

    def test_two_workers_one_mailbox(self):
        server_id = self._make_server("support")
        subjects = [f"Concurrent one-box {i}" for i in range(8)]
        for subject in subjects:
            self.dovecot.append("support", make_email(subject=subject))
        self._run_in_threads([server_id, server_id])
        counts, states = self._state(subjects)
        self.assertEqual(set(counts.values()), {1}, counts)
        self.assertEqual(states, ["done"] * 8)

    def test_same_mail_in_two_mailboxes_at_once(self):
        first, second = self._make_server("support"), self._make_server("sales")
        subjects = [f"Concurrent two-box {i}" for i in range(8)]
        for subject in subjects:
            raw = make_email(subject=subject)
            self.dovecot.append("support", raw)
            self.dovecot.append("sales", raw)
        self._run_in_threads([first, second])
        counts, states = self._state(subjects)
        self.assertEqual(set(counts.values()), {1}, counts)
        self.assertEqual(states, ["done"] * 8 + ["duplicate"] * 8)

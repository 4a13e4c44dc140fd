"""The Instant delivery listener: IMAP IDLE on the inbound folders of the mailboxes that ask for it.

It runs beside Odoo's HTTP and cron workers, in a process of its own
(``odoo-bin mail_converter_idle``), so it works the same with the threaded
server, prefork, and several servers on one database. Each mailbox is watched
by one listener only, across all servers: the one holding its PostgreSQL
advisory lock, taken on a connection kept for that purpose (the lock goes with
the process if it dies; a standby listener takes the mailbox at its next scan).

The listener converts nothing. When a message arrives it records a signal and
triggers the "instant delivery" scheduled job, which fetches the mailbox in a
cron worker through the usual exactly-once pipeline. While nothing arrives it
writes nothing: health is written only when a mailbox's state changes.
"""

import logging
import os
import socket
import threading

import psycopg2

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.sql_db import connection_info_for

from ..tools import idle

_logger = logging.getLogger(__name__)

LOCK_CLASS = 2177  # first key of the advisory lock (RFC 2177); the second is the mailbox id
RESCAN_SECONDS = 30  # how often settings are re-read and a standby tries to take over
JOIN_SECONDS = 15  # how long a stopping watcher may take to say DONE and LOGOUT


class MailboxWatch:
    """The watcher threads of one mailbox, one IMAP connection per inbound folder, and its health."""

    def __init__(self, listener, server_id, folders):
        self.listener = listener
        self.server_id = server_id
        self.folders = folders  # ((folder_id, path), ...)
        self.stop = threading.Event()
        self._states = {}
        self._reported = None
        self._mutex = threading.Lock()
        self.threads = [
            threading.Thread(
                target=idle.watch_folder,
                args=(self._connect, path, self._on_new(folder_id), self.stop),
                kwargs={"on_state": self._on_state(folder_id), **listener.watch_options},
                name=f"mail_converter_idle {listener.dbname} {server_id} {path}",
                daemon=True,
            )
            for folder_id, path in folders
        ]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def close(self):
        """Stop every watcher (IDLE DONE, LOGOUT) and wait for them."""
        self.stop.set()
        for thread in self.threads:
            thread.join(JOIN_SECONDS)

    def alive(self):
        return any(thread.is_alive() for thread in self.threads)

    def _connect(self):
        with self.listener.cursor() as cr:
            server = self.listener.env(cr)["fetchmail.server"].browse(self.server_id)
            return server._converter_connect().client

    def _on_new(self, folder_id):
        def on_new():
            with self.listener.cursor() as cr:
                env = self.listener.env(cr)
                env["mail.converter.instant.signal"]._converter_signal(self.server_id, folder_id)

        return on_new

    def _on_state(self, folder_id):
        def on_state(state, error):
            with self._mutex:
                self._states[folder_id] = (state, error)
                report = self._summary()
                if report == self._reported:
                    return
                try:
                    with self.listener.cursor() as cr:
                        self.listener.env(cr)["mail.converter.listener"]._converter_report(
                            self.server_id, report[0], report[1], self.listener.name
                        )
                    self._reported = report
                except Exception:  # noqa: BLE001 - health is reported again at the next change
                    _logger.warning("Instant delivery: cannot record the state", exc_info=True)

        return on_state

    def _summary(self):
        """The mailbox's state: the worst of its folders'."""
        states = list(self._states.values())
        for wanted in (idle.STATE_RECONNECTING, idle.STATE_POLLING, idle.STATE_WATCHING):
            found = [s for s in states if s[0] == wanted]
            if found:
                return found[0]
        return (idle.STATE_STOPPED, "")


class InstantListener:
    """Watches the Instant delivery mailboxes of one database until its stop event is set."""

    def __init__(self, dbname, rescan=RESCAN_SECONDS, name=None, **watch_options):
        self.dbname = dbname
        self.rescan = rescan
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.watch_options = watch_options  # passed to tools.idle.watch_folder (tests, bench)
        self.watches = {}  # mailbox id -> MailboxWatch
        self._lock_conn = None

    # -- database --------------------------------------------------------------
    def cursor(self):
        return Registry(self.dbname).cursor()

    def env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {"mail_create_nolog": True})

    def _locks(self):
        """The connection holding this listener's advisory locks; when it was lost, the locks
        went with it, so every watch stops before a new one is opened."""
        if self._lock_conn is not None and not self._lock_conn.closed:
            try:
                with self._lock_conn.cursor() as cur:
                    cur.execute("SELECT 1")
                return self._lock_conn
            except psycopg2.Error:
                _logger.warning("Instant delivery: lost the lock connection; stopping watchers")
        self._release_all()
        if self._lock_conn is not None:
            self._lock_conn.close()
        _dbname, params = connection_info_for(self.dbname)
        self._lock_conn = psycopg2.connect(**params)
        self._lock_conn.autocommit = True
        return self._lock_conn

    def _try_lock(self, server_id):
        with self._locks().cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, server_id))
            return cur.fetchone()[0]

    def _unlock(self, server_id):
        if self._lock_conn is None or self._lock_conn.closed:
            return
        try:
            with self._lock_conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, server_id))
        except psycopg2.Error:
            _logger.info("Instant delivery: unlock of %s failed", server_id, exc_info=True)

    # -- loop ------------------------------------------------------------------
    def run(self, stop):
        """Watch until ``stop`` (a ``threading.Event``) is set, then stop every watcher."""
        _logger.info("Instant delivery listener %s started on %s", self.name, self.dbname)
        try:
            while True:
                try:
                    self.scan()
                except Exception:  # noqa: BLE001 - the database may be away: try again later
                    _logger.warning("Instant delivery: scan failed", exc_info=True)
                if stop.wait(self.rescan):
                    break
        finally:
            self._release_all()
            if self._lock_conn is not None:
                self._lock_conn.close()
            _logger.info("Instant delivery listener %s stopped", self.name)

    def scan(self):
        """Start and stop watches to match the mailboxes' settings; take free mailboxes."""
        self._locks()
        with self.cursor() as cr:
            wanted = self.env(cr)["fetchmail.server"]._converter_instant_folders()
        for server_id, watch in list(self.watches.items()):
            if wanted.get(server_id) != watch.folders or not watch.alive():
                self._release(server_id)
        for server_id, folders in wanted.items():
            if server_id not in self.watches and folders and self._try_lock(server_id):
                _logger.info("Instant delivery: watching mailbox %s (%s)", server_id, self.name)
                self.watches[server_id] = MailboxWatch(self, server_id, folders).start()

    def _release(self, server_id):
        self.watches.pop(server_id).close()
        self._unlock(server_id)

    def _release_all(self):
        for server_id in list(self.watches):
            self._release(server_id)

"""The mailbox's run: lock, session (connect, source, disconnect), folders, helpers on
backlog ranges.
"""

import logging
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.connection import MailboxError

_logger = logging.getLogger(__name__)

# A mailbox that finds nothing new records its last run at most this often (no write per poll).
QUIET_RUN_MINUTES = 15


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    def _converter_is_due(self, now=None):
        """Whether the scheduler should fetch this mailbox now (its check interval, or its backoff)."""
        self.ensure_one()
        due = self._converter_due_at()
        # A minute of slack so a 5-minute cron does not skip a 5-minute mailbox.
        return not due or due <= (now or fields.Datetime.now()) + timedelta(minutes=1)

    @api.model
    def _cron_converter_worker(self):
        """A parallel fetch worker (its own scheduled job): reads the converter mailboxes that
        are due, least recently read first; mailboxes another worker holds are skipped."""
        servers = self.search(
            [("use_converter", "=", True), ("state", "=", "done"), ("server_type", "!=", "local")],
            order="date asc nulls first, id asc",
        )
        # Workers that start together would queue behind the same mailbox: start elsewhere.
        cron_id = self.env.context.get("cron_id") or 0
        if servers:
            offset = cron_id % len(servers)
            servers = servers[offset:] + servers[:offset]
        servers._fetch_mail()

    def _fetch_mail(self, batch_limit=50):
        if self.env.context.get("cron_id"):
            self = self.filtered(lambda s: s._converter_is_due())
        converter = self.filtered("use_converter")
        stock = self - converter
        result_exception = super(FetchmailServer, stock)._fetch_mail(batch_limit) if stock else None
        for server in converter:
            # Each mailbox runs in a transaction of its own, committed when it is done, as stock
            # fetchmail commits between mailboxes: its lock and its snapshot start with it, so
            # locking it never collides with what another worker committed meanwhile.
            with self.env.registry.cursor() as server_cr:
                exception = server.with_env(server.env(cr=server_cr))._converter_fetch()
            result_exception = exception or result_exception
        if converter:
            self.invalidate_recordset()
        return result_exception

    def _converter_fetch(self):
        """Fetch every active folder of this mailbox; return the exception that stopped it, if any.

        This transaction holds the mailbox's lock; the emails are converted and
        committed batch by batch in a cursor of their own, as stock fetchmail does.
        """
        self.ensure_one()
        # Not toggling the shared fetchmail cron on every write avoids workers colliding on it.
        self = self.with_context(fetchmail_cron_running=True)
        if not self._converter_try_lock():
            if self._converter_has_ranges():
                return self._converter_help()
            _logger.info("Mailbox %s is being fetched by another worker; skipped.", self.name)
            return None
        counts = Counter()
        exception = None
        try:
            with self._converter_session(counts, "fetched") as (mailbox, server, source):
                for folder in server.converter_folder_ids.filtered("active"):
                    folder._converter_fetch(mailbox, source, counts)
                    if folder._converter_time_is_up():
                        break
            self._converter_record_success()
        except Exception as exc:  # noqa: BLE001 - shown on the mailbox, never crashes the run
            exception = exc
            self._converter_record_error(exc)
        now = fields.Datetime.now()
        if counts or exception or self._converter_record_quiet_run(now):
            self.write({"date": now, "converter_last_run": now})
        return exception

    @contextmanager
    def _converter_session(self, counts, what):
        """One session on the mail server: log in, open the cursor the emails are converted
        in, read the mailbox's settings once; always log out and log what was done.

        Yields ``(mailbox, server, source)``: the logged-in :mod:`..tools.connection`
        mailbox, this mailbox in the emails' cursor, and its :class:`MailboxSource`.
        A failure is logged here and raised to the caller.
        """
        mailbox = None
        try:
            mailbox = self._converter_connect()
            with self.env.registry.cursor() as message_cr:
                server = self.with_env(self.env(cr=message_cr))
                yield mailbox, server, server._converter_source()
        except Exception as exc:
            _logger.warning(
                "Mail converter: %s on %s failed: %s",
                what,
                self.name,
                exc,
                exc_info=not isinstance(exc, MailboxError | OSError),
            )
            raise
        finally:
            if mailbox is not None:
                try:
                    mailbox.disconnect()
                except Exception:  # noqa: BLE001 - the session is over either way
                    _logger.info(
                        "Mail converter: could not close %s cleanly", self.name, exc_info=True
                    )
            _logger.info(
                "Mail converter: %s on %s: %s",
                what,
                self.name,
                ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing",
            )

    def _converter_has_ranges(self):
        """Whether this mailbox's folders have backlog ranges waiting for a worker."""
        self.env.cr.execute(
            SQL("SELECT 1 FROM mail_converter_folder_range WHERE server_id = %s LIMIT 1", self.id)
        )
        return bool(self.env.cr.fetchone())

    def _converter_help(self):
        """Convert backlog ranges of a mailbox another worker holds.

        The holder keeps the mailbox's own state (new messages, retries, health); a
        helper only takes free ranges, so nothing it writes is shared with the holder.
        Its failures are logged here and seen again by the holder on the next run.
        """
        counts = Counter()
        try:
            with self._converter_session(counts, "helping") as (mailbox, server, source):
                Range = server.env["mail.converter.folder.range"].sudo()
                folders = Range.search([("server_id", "=", self.id)]).folder_id
                for folder in folders.filtered("active"):
                    state = mailbox.open_folder(folder.path, after_uid=folder.last_uid)
                    folder._converter_work_ranges(mailbox, source, counts, state.uidvalidity)
                    if folder._converter_time_is_up():
                        break
        except Exception:  # noqa: BLE001 - logged by the session; the holder reports health
            return None
        return None

    def _converter_try_lock(self):
        """Lock this mailbox for this run; False when another worker holds it (or just did)."""
        try:
            with self.env.cr.savepoint(flush=False):
                return bool(self.try_lock_for_update(allow_referencing=True))
        except psycopg2.errors.SerializationFailure:
            # Another worker updated it after this transaction began: it was just fetched.
            return False

    def _converter_record_quiet_run(self, now):
        """Whether a run that found nothing is worth a database write.

        A quiet mailbox costs one connection and one SELECT, and no write: its last run
        is recorded at most every QUIET_RUN_MINUTES, unless its check interval needs it.
        """
        self.ensure_one()
        last = self.converter_last_run
        return (
            bool(self.check_interval)
            or not last
            or last <= now - timedelta(minutes=QUIET_RUN_MINUTES)
        )

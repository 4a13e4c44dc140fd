"""Mail in seconds: Instant delivery (IMAP IDLE) and the MTA pipe of a converter mailbox.

The listener itself lives in ``services/instant_listener.py`` and runs as
``odoo-bin mail_converter_idle``; this file holds what it reads and triggers,
and the pipe's entry into the pipeline (``controllers/main.py`` is its route).
"""

import hashlib
import secrets
from datetime import timedelta

from odoo import api, fields, models

from ..tools.retry import ConverterRetry
from ..tools.source import Origin
from .mail_converter_listener import LISTENER_STATES

BUSY_RETRY_SECONDS = 10  # a mailbox another worker is fetching is tried again this much later


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    converter_instant = fields.Boolean(
        "Instant delivery",
        help="Watch the inbound folders with IMAP IDLE: a new message is fetched within seconds "
        "by a cron worker, not at the next scheduled run. Needs the listener process "
        "(odoo-bin mail_converter_idle, see the README). Scheduled fetching goes on as a "
        "safety net.",
    )
    converter_instant_state = fields.Selection(
        [("none", "No listener"), *LISTENER_STATES],
        "Listener",
        compute="_compute_converter_instant",
        help="What the Instant delivery listener is doing with this mailbox.",
    )
    converter_instant_error = fields.Text("Listener error", compute="_compute_converter_instant")
    converter_instant_host = fields.Char("Listener process", compute="_compute_converter_instant")
    converter_instant_since = fields.Datetime(
        "Listener since", compute="_compute_converter_instant"
    )
    converter_pipe_secret = fields.Char(
        "Pipe secret",
        groups="base.group_system",
        copy=False,
        help="Shared with the mail server that pipes mail to this mailbox "
        "(scripts/mail_converter_mailgate.py). Empty: the pipe is closed.",
    )
    converter_pipe_url = fields.Char("Pipe URL", compute="_compute_converter_pipe_url")

    def _compute_converter_instant(self):
        rows = (
            self.env["mail.converter.listener"]
            .sudo()
            .search([("server_id", "in", self.ids)])
            .grouped("server_id")
        )
        for server in self:
            row = rows.get(server._origin)
            server.converter_instant_state = row.state if row else "none"
            server.converter_instant_error = row.error if row else False
            server.converter_instant_host = row.host if row else False
            server.converter_instant_since = row.state_date if row else False

    def _compute_converter_pipe_url(self):
        base = self.get_base_url()
        for server in self:
            server.converter_pipe_url = (
                f"{base}/mail_converter/pipe/{server._origin.id}" if server._origin.id else False
            )

    def action_converter_pipe_secret(self):
        """Give the mailbox a new pipe secret (the mail server's copy must be updated)."""
        self._converter_check_mailbox_admin()
        for server in self:
            server.sudo().converter_pipe_secret = secrets.token_urlsafe(32)

    # -- Instant delivery ---------------------------------------------------------------
    @api.model
    def _converter_instant_folders(self):
        """``{mailbox id: ((folder id, path), ...)}``: what the listener should watch."""
        servers = self.sudo().search(
            [("use_converter", "=", True), ("converter_instant", "=", True), ("state", "=", "done")]
        )
        return {
            server.id: tuple(
                (folder.id, folder.path)
                for folder in server.converter_folder_ids.sorted("id")
                if folder.active and folder.direction == "inbound"
            )
            for server in servers
            if server._get_connection_type() == "imap"
        }

    @api.model
    def _cron_converter_instant(self):
        """Fetch the mailboxes whose listener announced new mail, each in a transaction of its own.

        A mailbox another worker is reading keeps its signals and is tried again
        shortly: that worker may have listed the folder before the message came.
        """
        Signal = self.env["mail.converter.instant.signal"]
        busy = False
        for server_id, upto in Signal._converter_pending().items():
            with self.env.registry.cursor() as cr:
                server = self.with_env(self.env(cr=cr)).browse(server_id).exists()
                if not server:
                    continue
                if not server._converter_try_lock():
                    busy = True
                    continue
                Signal.with_env(server.env)._converter_consume(server_id, upto)
                server._converter_fetch()
        if busy:
            cron = self.env.ref("mail_converter.ir_cron_mail_converter_instant")
            cron._trigger(fields.Datetime.now() + timedelta(seconds=BUSY_RETRY_SECONDS))

    # -- the MTA pipe ---------------------------------------------------------------------
    def _converter_pipe_origin(self, raw, size):
        """Where a piped email comes from: the same bytes piped again are the same copy."""
        return Origin(
            direction="inbound",
            uidl=f"pipe:{hashlib.sha256(raw).hexdigest()}",
            size=size,
        )

    def _converter_pipe(self, raw, size=0):
        """Run one raw email handed over by a mail server through the pipeline; return its log.

        The same log-first, exactly-once path as fetched mail, with the same caps:
        ``raw`` is at most the mailbox's size limit plus one byte (``size`` is the
        real size), and a larger email is logged as too large, not converted.
        """
        self.ensure_one()
        try:
            return self.env["mail.converter"]._process(
                raw, self._converter_source(), self._converter_pipe_origin(raw, size)
            )
        except ConverterRetry as retry:
            # Another worker's commit got in the way: the failure is on the row, and the
            # mail server delivers the email again later (503, exit 75).
            return retry.log

    def _converter_pipe_retry(self, log):
        """Whether the mail server should keep ``log``'s email and deliver it again later."""
        return log.state == "failed" and log.attempts < max(self.max_attempts, 1)

import logging
import time

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import split_every

from ..tools.connection import MailboxError

_logger = logging.getLogger(__name__)


class FetchmailServerFolder(models.Model):
    _name = "fetchmail.server.folder"
    _description = "Mailbox folder read by the mail converter"
    _order = "server_id, sequence, id"

    server_id = fields.Many2one("fetchmail.server", "Mailbox", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    path = fields.Char(
        "Folder", required=True, default="INBOX",
        help="IMAP path of the folder, e.g. INBOX or INBOX/Support. POP3 mailboxes have only INBOX.",
    )
    direction = fields.Selection(
        [("inbound", "Inbound (received mail)"), ("outbound", "Outbound (sent mail)")],
        required=True, default="inbound",
        help="Outbound folders hold mail your staff sent; it is assigned to the sender.",
    )
    fetch_mode = fields.Selection(
        [("all", "All new messages"), ("unread", "Unread messages only")],
        required=True, default="all",
    )
    after_action = fields.Selection(
        [("keep", "Keep as is"), ("seen", "Mark as read"), ("move", "Move to folder"), ("delete", "Delete")],
        "After processing", required=True, default="keep",
        help="Applied on the mail server only once the message's records are saved.",
    )
    move_to_path = fields.Char("Move to", help="IMAP path the messages are moved to after processing.")
    uidvalidity = fields.Integer("UIDVALIDITY", readonly=True, copy=False)
    last_uid = fields.Integer("Last UID", readonly=True, copy=False,
                              help="Highest UID already read; only newer messages are fetched.")
    last_run = fields.Datetime(readonly=True, copy=False)

    _path_unique = models.Constraint(
        "UNIQUE(server_id, path)", "A folder can be listed only once per mailbox.",
    )

    @api.constrains("after_action", "move_to_path")
    def _check_move_to_path(self):
        for folder in self:
            if folder.after_action == "move" and not (folder.move_to_path or "").strip():
                raise ValidationError(self.env._("Folder %(path)s moves messages but names no target folder.",
                                                 path=folder.path))
            if folder.after_action == "move" and folder.move_to_path == folder.path:
                raise ValidationError(self.env._("Folder %(path)s cannot move messages onto itself.",
                                                 path=folder.path))

    @api.depends("server_id", "path")
    def _compute_display_name(self):
        for folder in self:
            folder.display_name = f"{folder.server_id.name} / {folder.path}" if folder.server_id else folder.path

    def action_reset_sync(self):
        """Read the folder again from its first message; the log still prevents duplicates."""
        self.write({"last_uid": 0, "uidvalidity": 0})
        return True

    # -- fetching (runs in the mailbox's message cursor, which it commits) --
    def _converter_fetch(self, mailbox, counts):
        """Convert the new messages of this folder and apply the after-action to them."""
        self.ensure_one()
        server = self.server_id
        pop = mailbox.protocol == "pop"
        unread_only = self.fetch_mode == "unread"
        state = mailbox.open_folder(self.path, after_uid=self.last_uid, unread_only=unread_only)
        if not pop and state.uidvalidity != self.uidvalidity:
            if self.uidvalidity:
                # The server renumbered the folder: read it again; the log keeps it exactly-once.
                _logger.warning("Mail converter: UIDVALIDITY of %s changed (%s -> %s); resynchronising.",
                                self.display_name, self.uidvalidity, state.uidvalidity)
                state = mailbox.open_folder(self.path, after_uid=0, unread_only=unread_only)
            self.write({"uidvalidity": state.uidvalidity, "last_uid": 0})
            self.env.cr.commit()
        Log = self.env["mail.converter.log"].sudo()
        if pop:
            on_server = Log.search([("folder_id", "=", self.id), ("uidl", "in", state.uids)])
            known = {log.uidl: log for log in on_server}
            retry = on_server.filtered(lambda log: log._converter_should_retry())
            todo = [u for u in state.uids if u not in known] + retry.mapped("uidl")
            # Every finished message still on the server is due for its after-action.
            pending = on_server.filtered(lambda log: log.state != "failed")
        else:
            base = [("folder_id", "=", self.id), ("uidvalidity", "=", state.uidvalidity)]
            pending = Log.search(base + [("action_pending", "=", True)])
            retry = Log.search(base + [("state", "=", "failed"), ("attempts", "<", server.max_attempts),
                                       ("uid", "<=", self.last_uid)])
            todo = retry.mapped("uid") + state.uids
        self._converter_after_action(mailbox, pending)
        defaults = self._converter_source_defaults()
        seen_retries = set()
        for batch in split_every(max(server.batch_size, 1), todo, list):
            finished = self.env["mail.converter.log"]
            for uid, raw in mailbox.retrieve(batch):
                seen_retries.add(uid)
                source = dict(defaults, uid=0 if pop else uid, uidl=uid if pop else False,
                              uidvalidity=state.uidvalidity)
                log = self._converter_process_one(raw, source)
                log_state = log.state if log else None  # read before the commit empties the cache
                self.env.cr.commit()
                if log:
                    counts[log_state] += 1
                    if log_state != "failed":
                        finished |= log
            # Once per batch: after a crash the log, not last_uid, keeps messages exactly-once.
            highest = max((u for u in batch if not pop), default=0)
            self.write({"last_uid": max(highest, self.last_uid), "last_run": fields.Datetime.now()})
            self.env.cr.commit()
            self._converter_after_action(mailbox, finished)
            if self._converter_time_is_up():
                _logger.info("Mail converter: time budget of the scheduler used; %s continues next run.",
                             self.display_name)
                return
        vanished = retry.filtered(lambda log: (log.uidl if pop else log.uid) not in seen_retries)
        if vanished:
            vanished.write({"attempts": server.max_attempts,
                            "error": self.env._("The message is no longer on the mail server; "
                                                "retry it from the log (its original is stored).")})
            self.env.cr.commit()

    def _converter_time_is_up(self):
        """Whether the scheduler's time budget for this run is spent (never outside the scheduler)."""
        end = self.env.context.get("cron_end_time")
        return bool(end) and time.monotonic() >= end

    def _converter_source_defaults(self):
        """What the pipeline needs to know about this folder, read once per run."""
        self.ensure_one()
        return dict(
            self.server_id._converter_settings(),
            folder=self,
            direction=self.direction,
            after_action=self.after_action,
        )

    def _converter_process_one(self, raw, source):
        """Run the pipeline on one message; an unexpected error rolls back this message only."""
        try:
            return self.env["mail.converter"]._process(raw, source)
        except Exception:  # noqa: BLE001 - one message never stops the others
            self.env.cr.rollback()
            _logger.exception("Mail converter: message %s of %s could not be logged",
                              source["uid"] or source["uidl"], self.display_name)
            return None

    def _converter_after_action(self, mailbox, logs):
        """Apply the after-action on the server to finished messages, then forget it is pending."""
        if not logs:
            return
        action = self.after_action
        if mailbox.protocol == "pop" and action != "delete":
            action = "keep"
        refs = [log.uidl if mailbox.protocol == "pop" else log.uid for log in logs]
        try:
            mailbox.handled(refs, action, self.move_to_path)
        except MailboxError as exc:
            raise MailboxError(self.env._("%(action)s on %(folder)s failed: %(error)s",
                                          action=action, folder=self.path, error=exc)) from exc
        logs.filtered("action_pending").write({"action_pending": False})
        self.env.cr.commit()

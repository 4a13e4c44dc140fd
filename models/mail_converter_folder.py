import logging
import time

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import split_every

from ..tools.connection import MailboxError, Unreadable
from ..tools.retry import ConverterRetry
from ..tools.source import Origin

_logger = logging.getLogger(__name__)


class MailConverterFolder(models.Model):
    _name = "mail.converter.folder"
    _description = "Mailbox folder read by the mail converter"
    _order = "server_id, sequence, id"

    server_id = fields.Many2one(
        "fetchmail.server", "Mailbox", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    path = fields.Char(
        "Folder",
        required=True,
        default="INBOX",
        help="IMAP path of the folder, e.g. INBOX or INBOX/Support. POP3 mailboxes have only INBOX.",
    )
    direction = fields.Selection(
        [("inbound", "Inbound (received mail)"), ("outbound", "Outbound (sent mail)")],
        required=True,
        default="inbound",
        help="Outbound folders hold mail your staff sent; it is assigned to the sender.",
    )
    fetch_mode = fields.Selection(
        [("all", "All new messages"), ("unread", "Unread messages only")],
        required=True,
        default="all",
    )
    after_action = fields.Selection(
        [
            ("keep", "Keep as is"),
            ("seen", "Mark as read"),
            ("move", "Move to folder"),
            ("delete", "Delete"),
        ],
        "After processing",
        required=True,
        default="keep",
        help="Applied on the mail server only once the message's records are saved.",
    )
    move_to_path = fields.Char(
        "Move to", help="IMAP path the messages are moved to after processing."
    )
    uidvalidity = fields.Integer("UIDVALIDITY", readonly=True, copy=False)
    last_uid = fields.Integer(
        "Last UID",
        readonly=True,
        copy=False,
        help="Highest UID already read; only newer messages are fetched.",
    )
    last_run = fields.Datetime(readonly=True, copy=False)
    backlog_count = fields.Integer(
        "Backlog",
        compute="_compute_backlog_count",
        help="Messages waiting in UID ranges that every worker on this mailbox can take.",
    )
    # Security (multi-company): a folder belongs to its mailbox's company.
    company_id = fields.Many2one(related="server_id.company_id", store=True, index=True)

    _path_unique = models.Constraint(
        "UNIQUE(server_id, path)",
        "A folder can be listed only once per mailbox.",
    )

    @api.constrains("after_action", "move_to_path")
    def _check_move_to_path(self):
        for folder in self:
            if folder.after_action == "move" and not (folder.move_to_path or "").strip():
                raise ValidationError(
                    self.env._(
                        "Folder %(path)s moves messages but names no target folder.",
                        path=folder.path,
                    )
                )
            if folder.after_action == "move" and folder.move_to_path == folder.path:
                raise ValidationError(
                    self.env._(
                        "Folder %(path)s cannot move messages onto itself.", path=folder.path
                    )
                )

    def _compute_backlog_count(self):
        counts = dict(
            self.env["mail.converter.folder.range"]
            .sudo()
            ._read_group([("folder_id", "in", self.ids)], ["folder_id"], ["message_count:sum"])
        )
        for folder in self:
            folder.backlog_count = counts.get(folder, 0)

    @api.depends("server_id", "path")
    def _compute_display_name(self):
        for folder in self:
            folder.display_name = (
                f"{folder.server_id.name} / {folder.path}" if folder.server_id else folder.path
            )

    def action_reset_sync(self):
        """Read the folder again from its first message; the log still prevents duplicates."""
        self.write({"last_uid": 0, "uidvalidity": 0})
        self.env["mail.converter.folder.range"].sudo().search(
            [("folder_id", "in", self.ids)]
        ).unlink()
        return True

    # -- fetching (runs in the mailbox's message cursor, committed batch by batch) --
    def _converter_origin(self):
        """Where this folder's messages come from, for the pipeline (completed per message)."""
        self.ensure_one()
        return Origin(folder_id=self.id, direction=self.direction, after_action=self.after_action)

    def _converter_fetch(self, mailbox, source, counts):
        """Convert the new messages of this folder and apply the after-action to them.

        Each fetched batch is one transaction, committed through the scheduler's
        progress API; each email inside it is isolated by a savepoint. The server's
        flags change only after the batch is committed. A backlog larger than one
        range is cut into UID ranges that every worker on this mailbox can take.
        """
        self.ensure_one()
        Cron = self.env["ir.cron"]
        pop = mailbox.protocol == "pop"
        unread_only = self.fetch_mode == "unread"
        state = mailbox.open_folder(self.path, after_uid=self.last_uid, unread_only=unread_only)
        if not pop and state.uidvalidity != self.uidvalidity:
            if self.uidvalidity:
                # The server renumbered the folder: read it again; the log keeps it exactly-once.
                _logger.warning(
                    "Mail converter: UIDVALIDITY of %s changed (%s -> %s); resynchronising.",
                    self.display_name,
                    self.uidvalidity,
                    state.uidvalidity,
                )
                state = mailbox.open_folder(self.path, after_uid=0, unread_only=unread_only)
            self.write({"uidvalidity": state.uidvalidity, "last_uid": 0})
            self.env["mail.converter.folder.range"].sudo().search(
                [("folder_id", "=", self.id), ("uidvalidity", "!=", state.uidvalidity)]
            ).unlink()
        Log = self.env["mail.converter.log"].sudo()
        new = state.uids
        if pop:
            on_server = Log.search([("folder_id", "=", self.id), ("uidl", "in", state.uids)])
            known = {log.uidl: log for log in on_server}
            retry = on_server.filtered(
                lambda log: log.state == "failed" and log.attempts < source.max_attempts
            )
            new = [u for u in state.uids if u not in known]
            # Every finished message still on the server is due for its after-action.
            pending = on_server.filtered(lambda log: log.state != "failed")
        else:
            ranges = self._converter_ranges(state.uidvalidity)
            base = [("folder_id", "=", self.id), ("uidvalidity", "=", state.uidvalidity)]
            pending = Log.search(base + [("action_pending", "=", True)])
            retry = Log.search(
                base
                + [
                    ("state", "=", "failed"),
                    ("attempts", "<", source.max_attempts),
                    ("uid", "<=", self.last_uid),
                ]
            )

            # A range still waiting or being read handles its own failures and after-actions.
            def outside(log):
                return not any(low <= log.uid <= high for low, high in ranges)

            retry = retry.filtered(outside)
            pending = pending.filtered(outside)
            if len(new) > self._converter_range_size():
                self._converter_split(new, state.uidvalidity)
                new = []
        todo = (retry.mapped("uidl") if pop else retry.mapped("uid")) + new
        self._converter_after_action(mailbox, pending)
        # Security: rows of messages the server could not deliver, keyed by their place only.
        unreadable = {
            (log.uidl if pop else log.uid): log
            for log in retry
            if log.message_key.startswith("unreadable:")
        }
        seen = set()
        complete = self._converter_convert(
            mailbox, source, counts, todo, state.uidvalidity, unreadable, seen, advance=True
        )
        if not complete:
            return
        vanished = retry.filtered(lambda log: (log.uidl if pop else log.uid) not in seen)
        if vanished:
            vanished._converter_count_attempt(0, at_least=source.max_attempts)
            vanished.write(
                {
                    "error": self.env._(
                        "The message is no longer on the mail server; "
                        "retry it from the log (its original is stored)."
                    ),
                }
            )
        Cron._commit_progress()
        if not pop:
            self._converter_work_ranges(mailbox, source, counts, state.uidvalidity)

    def _converter_convert(
        self, mailbox, source, counts, uids, uidvalidity, unreadable, seen, advance=False
    ):
        """Convert ``uids`` batch by batch; False when the scheduler's time ran out first.

        ``advance`` moves the folder's last UID on: only the worker holding the mailbox
        does, so that workers on ranges never write the same row.
        """
        Cron = self.env["ir.cron"]
        pop = mailbox.protocol == "pop"
        origin = self._converter_origin()
        batches = list(split_every(max(self.server_id.batch_size, 1), uids, list))
        # Emails another worker's transaction got in the way of, retried after each commit.
        carry = []
        for index, batch in enumerate(batches):
            finished = []
            # Security: bounded reads; larger emails come as their header only (logged, kept).
            for uid, raw, message_origin, outcome in self._converter_outcomes(
                mailbox.retrieve(batch, max_size=source.max_message_size),
                source,
                origin.for_message,
                uidvalidity,
                pop,
                getattr(mailbox, "received", {}),
                getattr(mailbox, "sizes", {}),
            ):
                seen.add(uid)
                if isinstance(outcome, ConverterRetry):
                    _logger.info(
                        "Mail converter: %s collided with another worker; it is converted "
                        "again after this batch.",
                        outcome,
                    )
                    carry.append((raw, message_origin, outcome.log))
                    continue
                log = outcome
                if log and uid in unreadable and log != unreadable[uid]:
                    self._converter_supersede(unreadable.pop(uid), log)
                if log:
                    counts[log.state] += 1
                    if log.state != "failed":
                        finished.append(log.id)
            if advance:
                # Once per batch: after a crash the log, not last_uid, keeps messages exactly-once.
                highest = max((u for u in batch if not pop), default=0)
                self.write(
                    {"last_uid": max(highest, self.last_uid), "last_run": fields.Datetime.now()}
                )
            left = sum(len(b) for b in batches[index + 1 :])
            Cron._commit_progress(len(batch), remaining=left)
            if carry:
                done, carry = self._converter_retry_now(source, counts, carry)
                finished += done
            self._converter_after_action(mailbox, self.env["mail.converter.log"].browse(finished))
            if index + 1 < len(batches) and self._converter_time_is_up():
                _logger.info(
                    "Mail converter: time budget of the scheduler used; %s continues next run.",
                    self.display_name,
                )
                self._converter_wait_collisions(mailbox, source, counts, carry)
                return False
        self._converter_wait_collisions(mailbox, source, counts, carry)
        return True

    def _converter_outcomes(
        self, retrieved, source, for_message, uidvalidity, pop, received, sizes
    ):
        """Convert the retrieved ``(uid, raw)`` messages; yield ``(uid, raw, origin, outcome)``
        with the log row, ``None`` or the :class:`ConverterRetry` of each.

        Batched (``mail.converter.batch``) in groups of a bounded size, so a batch of large
        emails is never held in memory at once; one email at a time when batching is off.
        """
        Batch = self.env["mail.converter.batch"]
        batched = Batch._converter_batch_enabled()
        group, held = [], 0
        limit = self._converter_group_bytes()
        for uid, raw in retrieved:
            message_origin = for_message(
                uid=0 if pop else uid,
                uidl=uid if pop else "",
                uidvalidity=uidvalidity,
                # IMAP INTERNALDATE: the backlog test of acknowledgements
                received=received.get(uid),
                size=sizes.get(uid, 0),
            )
            if not batched:
                try:
                    outcome = self._converter_process_one(raw, source, message_origin)
                except ConverterRetry as retry:
                    outcome = retry
                yield uid, raw, message_origin, outcome
                continue
            group.append((uid, raw, message_origin))
            held += len(raw) if isinstance(raw, bytes) else 0
            if held >= limit:
                yield from self._converter_outcomes_of(Batch, group, source)
                group, held = [], 0
        if group:
            yield from self._converter_outcomes_of(Batch, group, source)

    def _converter_outcomes_of(self, Batch, group, source):
        """Convert ``group`` as one batch; yield ``(uid, raw, origin, outcome)``."""
        outcomes = Batch._converter_process_many([(raw, o) for _uid, raw, o in group], source)
        for (uid, raw, message_origin), outcome in zip(group, outcomes, strict=True):
            yield uid, raw, message_origin, outcome

    def _converter_group_bytes(self):
        """How many bytes of raw email a batch holds in memory at most before it is applied."""
        return 8 * 1024 * 1024

    # -- backlog ranges: several workers on one folder --------------------
    def _converter_range_size(self):
        """How many new messages one worker takes at a time from a large backlog (override to tune).

        One batch: small ranges keep workers busy until the end of the backlog.
        """
        return max(self.server_id.batch_size, 1)

    def _converter_ranges(self, uidvalidity):
        """``[(from, to)]`` of this folder's ranges still waiting or being read."""
        Range = self.env["mail.converter.folder.range"].sudo()
        return [
            (r.uid_from, r.uid_to)
            for r in Range.search([("folder_id", "=", self.id), ("uidvalidity", "=", uidvalidity)])
        ]

    def _converter_split(self, uids, uidvalidity):
        """Cut the new ``uids`` into ranges any worker can take, and commit them at once."""
        size = self._converter_range_size()
        chunks = list(split_every(size, sorted(uids), list))
        self.env["mail.converter.folder.range"].sudo().create(
            [
                {
                    "folder_id": self.id,
                    "uidvalidity": uidvalidity,
                    "uid_from": chunk[0],
                    "uid_to": chunk[-1],
                    "message_count": len(chunk),
                }
                for chunk in chunks
            ]
        )
        # The ranges now own these messages: the next poll starts after them.
        self.write({"last_uid": max(max(uids), self.last_uid), "last_run": fields.Datetime.now()})
        _logger.info(
            "Mail converter: %s has %s new messages; split into %s ranges for the workers.",
            self.display_name,
            len(uids),
            len(chunks),
        )
        self.env["ir.cron"]._commit_progress(remaining=len(uids))

    def _converter_work_ranges(self, mailbox, source, counts, uidvalidity):
        """Take this folder's free ranges one by one and convert them; return how many
        messages this worker read from ranges.

        A range stays locked by a cursor of its own until it is converted and deleted
        through that cursor; its batches are committed one by one in a cursor opened
        inside it, so a worker that stops leaves the rest of the range to the next one.
        """
        self.ensure_one()
        Range = self.env["mail.converter.folder.range"]
        unread_only = self.fetch_mode == "unread"
        done = 0
        # At least one range per run, as at least one batch: a spent budget still progresses.
        while not (done and self._converter_time_is_up()):
            with self.env.registry.cursor() as claim_cr:
                claimed = Range._converter_claim(claim_cr, self.id, uidvalidity)
                if not claimed:
                    break
                range_id, uid_from, uid_to = claimed
                state = mailbox.open_folder(
                    self.path, after_uid=uid_from - 1, unread_only=unread_only, upto_uid=uid_to
                )
                if state.uidvalidity != uidvalidity:
                    break  # renumbered: the holder of the mailbox resynchronises it
                seen = set()
                with self.env.registry.cursor() as range_cr:
                    folder = self.with_env(self.env(cr=range_cr))
                    complete = folder._converter_convert(
                        mailbox, source, counts, state.uids, uidvalidity, {}, seen
                    )
                done += len(seen)
                if not complete:
                    break  # time is up: the rest of the range waits for the next worker
                Range._converter_release(claim_cr, range_id)
                _logger.info(
                    "Mail converter: %s: UIDs %s to %s converted (%s messages).",
                    self.display_name,
                    uid_from,
                    uid_to,
                    len(seen),
                )
        return done

    def _converter_supersede(self, unreadable_log, log):
        """A message the server could not deliver before was read at last: its failed row
        becomes a duplicate of the row that logged it."""
        unreadable_log.write(
            {
                "state": "duplicate",
                "duplicate_of_id": log.id,
                "reason": self.env._("Delivered by the mail server at last"),
            }
        )

    def _converter_time_is_up(self):
        """Whether the scheduler's time budget for this run is spent (never outside the scheduler)."""
        end = self.env.context.get("cron_end_time")
        return bool(end) and time.monotonic() >= end

    def _converter_retry_now(self, source, counts, carry):
        """Convert again, in the transaction after a commit, the emails that collided with
        another worker (a reply to the same ticket, a contact for the same new sender): this
        transaction sees what that worker has committed since. A collision is not counted as
        an attempt. Returns the finished log ids and the emails that collided again."""
        finished, still = [], []
        for raw, origin, log in carry:
            try:
                log = self._converter_process_one(raw, source, origin, retry_log=log) or log
            except ConverterRetry:
                still.append((raw, origin, log))
                continue
            counts[log.state] += 1
            if log.state != "failed":
                finished.append(log.id)
        self.env["ir.cron"]._commit_progress()
        return finished, still

    def _converter_wait_collisions(self, mailbox, source, counts, carry):
        """Before leaving, wait a little for the other worker to commit what the emails in
        ``carry`` collided with; those that still collide are left failed for the next run."""
        for pause in (0.2, 0.5, 1, 2):
            if not carry:
                return
            time.sleep(pause)
            finished, carry = self._converter_retry_now(source, counts, carry)
            self._converter_after_action(mailbox, self.env["mail.converter.log"].browse(finished))
        counts["failed"] += len(carry)

    def _converter_process_one(self, raw, source, origin, retry_log=None):
        """Run the pipeline on one message; an error even before it is logged skips this message
        only. Raises :class:`ConverterRetry` (its failure kept) when it collided with another
        worker."""
        collided = None
        try:
            with self.env.cr.savepoint():
                if isinstance(raw, Unreadable):
                    return self.env["mail.converter"]._process_unreadable(raw, source, origin)
                try:
                    return self.env["mail.converter"]._process(
                        raw, source, origin, retry_log=retry_log
                    )
                except ConverterRetry as retry:
                    collided = retry  # raised once the savepoint keeps the recorded failure
        except Exception:  # noqa: BLE001 - one message never stops the others
            _logger.exception(
                "Mail converter: message %s of %s could not be logged",
                origin.uid or origin.uidl,
                self.display_name,
            )
            return None
        raise collided

    def _converter_after_action(self, mailbox, logs):
        """Apply the after-action on the server to finished messages, then forget it is pending."""
        if not logs:
            return
        action = self.after_action
        if mailbox.protocol == "pop" and action != "delete":
            action = "keep"
        if action == "delete":
            # Never delete what was not imported because of its size: it stays on the server.
            kept = logs.filtered("too_large")
            kept.filtered("action_pending").write({"action_pending": False})
            logs -= kept
            if not logs:
                return
        refs = [log.uidl if mailbox.protocol == "pop" else log.uid for log in logs]
        try:
            mailbox.handled(refs, action, self.move_to_path)
        except MailboxError as exc:
            raise MailboxError(
                self.env._(
                    "%(action)s on %(folder)s failed: %(error)s",
                    action=action,
                    folder=self.path,
                    error=exc,
                )
            ) from exc
        logs.filtered("action_pending").write({"action_pending": False})

"""An archive import: a stored .eml, .mbox or .zip fed to the pipeline in committed batches.

Every message goes through ``mail.converter._process`` exactly as a fetched
one, with the mailbox's settings and rules, as backlog (never acknowledged).
Each copy has a stable identity, ``uidl = "import:<file checksum>:<index>"``,
so the log recognises a message imported before: importing the same file again
logs and converts nothing new, and a resumed import never doubles a message.
"""

import contextlib
import io
import logging
import time
from collections import Counter

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import archive
from ..tools.retry import ConverterRetry
from ..tools.source import Origin

_logger = logging.getLogger(__name__)

# Per-entry problems kept on the import; the log holds every one of them anyway.
MAX_ISSUE_LINES = 200


class MailConverterImportJob(models.Model):
    _name = "mail.converter.import.job"
    _description = "Mail archive import"
    _order = "id desc"

    name = fields.Char("File", required=True, readonly=True)
    server_id = fields.Many2one(
        "fetchmail.server",
        "Mailbox",
        required=True,
        readonly=True,
        ondelete="cascade",
        index=True,
        help="Whose settings and rules apply, as if the mail had been fetched from it.",
    )
    company_id = fields.Many2one(related="server_id.company_id", store=True, index=True)
    direction = fields.Selection(
        [("inbound", "Inbound (received mail)"), ("outbound", "Outbound (sent mail)")],
        required=True,
        readonly=True,
        default="inbound",
    )
    kind = fields.Selection(
        [("eml", "Email (.eml)"), ("mbox", "Mailbox (.mbox)"), ("zip", "Zip of .eml files")],
        required=True,
        readonly=True,
    )
    attachment_id = fields.Many2one("ir.attachment", "Archive", readonly=True, ondelete="set null")
    file_checksum = fields.Char(
        readonly=True,
        index=True,
        help="Checksum of the file: with the message's position, the identity of each imported copy.",
    )
    file_size = fields.Integer(related="attachment_id.file_size", string="Size")
    state = fields.Selection(
        [
            ("queued", "Waiting"),
            ("running", "In progress"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="queued",
        readonly=True,
        index=True,
    )
    total = fields.Integer("Messages", readonly=True, help="Messages found in the file.")
    processed = fields.Integer(readonly=True)
    converted = fields.Integer(readonly=True)
    duplicates = fields.Integer(
        readonly=True,
        help="Emails already in the log: imported before, or received through a mailbox.",
    )
    failed = fields.Integer(readonly=True, help="Unreadable entries and failed conversions.")
    skipped = fields.Integer(readonly=True, help="Discarded, rejected and bounced emails.")
    ignored_entries = fields.Integer(
        readonly=True, help="Zip entries that are not .eml files (folders, other documents)."
    )
    progress = fields.Float(compute="_compute_progress")
    position = fields.Integer(
        readonly=True, help="Index of the next message to import: where a resumed import starts."
    )
    # Bytes into an mbox: an Integer column stops at 2 GB, an exact numeric does not.
    resume_offset = fields.Float(digits=(18, 0), readonly=True)
    date_start = fields.Datetime("Started", readonly=True)
    date_done = fields.Datetime("Finished", readonly=True)
    previous_job_id = fields.Many2one(
        "mail.converter.import.job",
        "Imported before by",
        readonly=True,
        help="An earlier import of the same file: its messages are now counted as duplicates.",
    )
    error = fields.Text(readonly=True, help="Why the import stopped.")
    issues = fields.Text(
        "Problems", readonly=True, help="Entries that could not be read or logged, with why."
    )

    # -- security: an import reads its own file, never one pointed at by RPC -------
    @api.model
    def _import_protected_fields(self):
        """Fields only the import itself writes: the file it reads, where it reads from, for whom."""
        return {
            "attachment_id",
            "file_checksum",
            "server_id",
            "kind",
            "direction",
            "position",
            "resume_offset",
            "previous_job_id",
            "name",
        }

    def write(self, vals):
        protected = set(vals) & self._import_protected_fields()
        if protected and not self.env.su:
            raise AccessError(
                self.env._(
                    "The file and mailbox of an import are set when it is created (%(fields)s).",
                    fields=", ".join(sorted(protected)),
                )
            )
        return super().write(vals)

    @api.depends("processed", "total", "state")
    def _compute_progress(self):
        for job in self:
            if job.state == "done":
                job.progress = 100.0
            else:
                job.progress = min(100.0 * job.processed / job.total, 100.0) if job.total else 0.0

    @api.depends("name", "server_id")
    def _compute_display_name(self):
        for job in self:
            job.display_name = f"{job.name} → {job.server_id.name}" if job.server_id else job.name

    # -- user actions -----------------------------------------------------
    def action_resume(self):
        """Queue an interrupted, failed or cancelled import again; it resumes where it stopped."""
        self.check_access("write")
        self.filtered(lambda j: j.state in ("failed", "cancelled")).write(
            {"state": "queued", "error": False}
        )
        self._import_schedule()
        return True

    def action_cancel(self):
        """Stop the import after its current batch; what is imported stays imported."""
        self.check_access("write")
        self.filtered(lambda j: j.state in ("queued", "running")).write({"state": "cancelled"})
        return True

    def action_open_logs(self):
        """The log rows of this file's messages."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_converter.action_mail_converter_log"
        )
        action["domain"] = [("uidl", "=like", self._import_uidl_prefix() + "%")]
        action["context"] = {}
        return action

    # -- scheduling -------------------------------------------------------
    def _import_schedule(self):
        """Wake the import scheduled action up now rather than at its next run."""
        cron = self.env.ref(
            "mail_converter.ir_cron_mail_converter_import", raise_if_not_found=False
        )
        if cron:
            cron.sudo()._trigger()

    @api.model
    def _import_immediate_limit(self):
        """Files with at most this many messages are imported at once, in the user's request."""
        return 25

    @api.model
    def _import_immediate_bytes(self):
        """Files up to this size are counted in the user's request; larger ones by the scheduler."""
        return 20 * 1024 * 1024

    @api.model
    def _cron_process_imports(self):
        """Scheduled action: continue every waiting or interrupted import, oldest first."""
        Cron = self.env["ir.cron"]
        jobs = self.search([("state", "in", ("queued", "running"))], order="id")
        for job in jobs:
            job._import_run()
            if self._import_time_is_up():
                break
        left = self.search([("state", "in", ("queued", "running"))])
        Cron._commit_progress(remaining=sum(max(j.total - j.processed, 1) for j in left))

    @api.model
    def _import_time_is_up(self):
        """Whether the scheduler's time budget for this run is spent (never outside the scheduler)."""
        end = self.env.context.get("cron_end_time")
        return bool(end) and time.monotonic() >= end

    # -- the import -----------------------------------------------------------
    def _import_run(self, commit=True):
        """Import batch after batch until the file is done, the time budget is spent or it is cancelled.

        With ``commit``, each batch is one transaction committed through the
        scheduler's progress API, and the row lock taken at the start of each
        batch keeps two workers off the same import. Without it (small files,
        in the user's request) the same batches run in the caller's transaction.
        """
        self.ensure_one()
        source = reader = None
        try:
            while True:
                if commit and not self.try_lock_for_update(allow_referencing=True):
                    _logger.info("Mail import %s is being run by another worker; skipped.", self.id)
                    return
                self.invalidate_recordset()  # another worker may have moved it on before the lock
                if self.state not in ("queued", "running"):
                    return
                if self.state == "queued" and not self._import_start():
                    self._import_commit(commit, 0)
                    return
                source = source or self.server_id._converter_source()
                if reader is None or reader.index != self.position:
                    if reader is not None:
                        reader.close()
                    reader = self._import_reader()
                done = self._import_batch(source, reader)
                self._import_commit(commit, done)
                if self.state != "running" or self._import_time_is_up():
                    return
        except (archive.ArchiveError, OSError) as exc:
            self._import_fail(exc)
            self._import_commit(commit, 0)
        finally:
            if reader is not None:
                reader.close()

    def _import_commit(self, commit, done):
        if commit:
            self.env["ir.cron"]._commit_progress(
                done, remaining=max(self.total - self.processed, 0)
            )

    def _import_count(self):
        """Count the messages of the file; one that cannot be read fails the import. Return success."""
        try:
            with self._import_open() as fileobj:
                total, ignored = archive.count_messages(fileobj, self.kind)
        except (archive.ArchiveError, OSError) as exc:
            self._import_fail(exc)
            return False
        self.write({"total": total, "ignored_entries": ignored})
        return True

    def _import_start(self):
        """Count the messages if not done yet and mark the import running."""
        if not self.total and not self._import_count():
            return False
        self.write({"state": "running", "date_start": self.date_start or fields.Datetime.now()})
        return True

    def _import_fail(self, exc):
        _logger.warning("Mail import %s (%s) failed: %s", self.id, self.name, exc)
        self.write({"state": "failed", "error": str(exc), "date_done": fields.Datetime.now()})

    def _import_file(self):
        """The stored file, opened for reading from disk (never loaded whole); the caller closes it."""
        attachment = self.attachment_id.sudo()
        if not attachment:
            raise archive.ArchiveError(self.env._("The archive file was deleted."))
        if attachment.store_fname:
            return open(attachment._full_path(attachment.store_fname), "rb")  # noqa: SIM115
        return io.BytesIO(attachment.raw or b"")  # stored in the database: in memory anyway

    @contextlib.contextmanager
    def _import_open(self):
        fileobj = self._import_file()
        try:
            yield fileobj
        finally:
            fileobj.close()

    def _import_reader(self):
        """The archive opened at the import's position, for the batches of this run."""
        fileobj = self._import_file()
        try:
            return archive.ArchiveReader(fileobj, self.kind, self.position, int(self.resume_offset))
        except Exception:
            fileobj.close()
            raise

    def _import_batch_size(self, source):
        """Messages per committed batch; override to tune."""
        return max(self.server_id.batch_size, 1)

    def _import_uidl_prefix(self):
        return f"import:{self.file_checksum}:"

    def _import_origin(self, entry):
        """The copy of an email at ``entry``: backlog, so it is never acknowledged."""
        return Origin(
            direction=self.direction,
            uidl=f"{self._import_uidl_prefix()}{entry.index}",
            backlog=True,
        )

    def _import_batch(self, source, reader):
        """Import the next batch of messages from ``reader``; return how many were read."""
        size = self._import_batch_size(source)
        prefix = self._import_uidl_prefix()
        known = {
            log.uidl: log.state
            for log in self.env["mail.converter.log"]
            .sudo()
            .search(
                [
                    (
                        "uidl",
                        "in",
                        [f"{prefix}{i}" for i in range(self.position, self.position + size)],
                    )
                ]
            )
        }
        counts, issues, failure = Counter(), [], None
        try:
            for outcome, issue in self._import_entries(reader.take(size), source, known):
                counts[outcome] += 1
                if issue:
                    issues.append(issue)
        except (archive.ArchiveError, OSError) as exc:
            failure = exc
        read = counts.total()
        values = {
            "processed": self.processed + read,
            "converted": self.converted + counts["converted"],
            "duplicates": self.duplicates + counts["duplicates"],
            "failed": self.failed + counts["failed"],
            "skipped": self.skipped + counts["skipped"],
        }
        if read:
            values.update(position=reader.index, resume_offset=reader.offset)
        if issues:
            lines = (self.issues or "").splitlines() + issues
            values["issues"] = "\n".join(lines[:MAX_ISSUE_LINES])
        if reader.exhausted and not failure:
            values.update(
                state="done",
                date_done=fields.Datetime.now(),
                total=max(self.total, self.processed + read),
            )
        self.write(values)
        if failure:
            self._import_fail(failure)
        return read

    def _import_entries(self, entries, source, known):
        """Run archive entries through the pipeline; yield each one's outcome and problem.

        Readable entries are converted as one batch (``mail.converter.batch``), in groups of a
        bounded size; one by one when batching is off.
        """
        Batch = self.env["mail.converter.batch"]
        if not Batch._converter_batch_enabled():
            for entry in entries:
                yield self._import_entry(entry, source, known)
            return
        group, held = [], 0
        entries = iter(entries)
        while True:
            try:
                entry = next(entries)
            except StopIteration:
                break
            except Exception:
                # A broken archive stops here: what was read before it is still converted.
                yield from self._import_group(Batch, group, source, known)
                raise
            if entry.error:
                yield from self._import_group(Batch, group, source, known)
                group, held = [], 0
                yield self._import_entry(entry, source, known)
                continue
            group.append(entry)
            held += len(entry.raw or b"")
            if held >= self.env["mail.converter.folder"]._converter_group_bytes():
                yield from self._import_group(Batch, group, source, known)
                group, held = [], 0
        yield from self._import_group(Batch, group, source, known)

    def _import_group(self, Batch, group, source, known):
        """Convert readable ``group`` entries as one batch; yield each one's outcome and problem."""
        if not group:
            return
        items = [(entry.raw, self._import_origin(entry)) for entry in group]
        for entry, (_raw, origin), log in zip(
            group, items, Batch._converter_process_many(items, source), strict=True
        ):
            if isinstance(log, ConverterRetry):
                log = log.log  # failed, kept: retried like any failure
            if not log:
                _logger.error("Mail import %s: %s could not be logged", self.id, entry.name)
                yield "failed", self.env._("%(entry)s: could not be logged", entry=entry.name)
                continue
            yield self._import_outcome(log, known.get(origin.uidl)), ""

    def _import_entry(self, entry, source, known):
        """Run one archive entry through the pipeline; return its outcome and any problem to note."""
        origin = self._import_origin(entry)
        before = known.get(origin.uidl)
        if entry.error:
            if not before:
                self._import_log_unreadable(entry, source, origin)
            return "failed", self.env._("%(entry)s: %(error)s", entry=entry.name, error=entry.error)
        try:
            with self.env.cr.savepoint():
                try:
                    log = self.env["mail.converter"]._process(entry.raw, source, origin)
                except ConverterRetry as retry:
                    log = retry.log  # failed, kept: retried like any failure
        except Exception as exc:  # noqa: BLE001 - one entry never stops the import
            _logger.exception("Mail import %s: %s could not be logged", self.id, entry.name)
            return "failed", self.env._("%(entry)s: %(error)s", entry=entry.name, error=exc)
        return self._import_outcome(log, before), ""

    @api.model
    def _import_outcome(self, log, before):
        """Which counter an entry adds to: its log row's state, or *duplicates* when it was logged before."""
        if log.state == "failed":
            return "failed"
        if before and before != "failed":
            return "duplicates"
        return {"done": "converted", "duplicate": "duplicates"}.get(log.state, "skipped")

    def _import_log_unreadable(self, entry, source, origin):
        """Log an entry that is not an email or cannot be read (corrupt, too large) as failed, with
        why; what could be read is kept as its original, so nothing is lost."""
        log = (
            self.env["mail.converter.log"]
            .sudo()
            .create(
                {
                    "message_key": origin.uidl,
                    "server_id": source.server_id,
                    "uidl": origin.uidl,
                    "direction": origin.direction,
                    "company_id": source.company_id or False,
                    "subject": entry.name,
                    "state": "failed",
                    "attempts": 1,
                    "reason": self.env._(
                        "Unreadable entry of %(file)s: %(error)s", file=self.name, error=entry.error
                    ),
                    "error": entry.error,
                }
            )
        )
        if entry.raw:
            log.raw_attachment_id = self.env["mail.converter"]._store_original(log, entry.raw)
        return log

    # -- creation ---------------------------------------------------------------
    @api.model
    def _import_create(self, server, attachment, direction="inbound", kind=None):
        """Create the import of ``attachment`` (which it then owns) for ``server``."""
        if not kind:
            with open_attachment_head(attachment) as head:
                kind = archive.detect_kind(attachment.name, head)
        if kind not in archive.KINDS:
            raise UserError(
                self.env._(
                    "%(file)s is not an email archive: import .eml, .mbox or .zip files.",
                    file=attachment.name,
                )
            )
        previous = self.search(
            [("file_checksum", "=", attachment.checksum), ("server_id", "=", server.id)], limit=1
        )
        job = self.create(
            {
                "previous_job_id": previous.id,
                "name": attachment.name,
                "server_id": server.id,
                "direction": direction,
                "kind": kind,
                "attachment_id": attachment.id,
                "file_checksum": attachment.checksum,
            }
        )
        attachment.sudo().write({"res_model": self._name, "res_id": job.id, "res_field": False})
        return job


@contextlib.contextmanager
def open_attachment_head(attachment, size=4096):
    """The first bytes of an attachment, without reading the whole file."""
    attachment = attachment.sudo()
    if attachment.store_fname:
        with open(attachment._full_path(attachment.store_fname), "rb") as fileobj:
            yield fileobj.read(size)
    else:
        yield (attachment.raw or b"")[:size]

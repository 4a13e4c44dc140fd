"""The conversion pipeline: log, read, plan, apply. One email per call.

``mail.converter.planner`` decides what an email becomes (the plan, without
writing); this model logs the email exactly once and carries the plan out.
Every email runs inside a savepoint of the caller's transaction: its records
and its log row's outcome are saved together, and a failure rolls back that
email's work only. The caller commits, once per fetched batch.

Each step is a small method meant to be overridden by extending modules.
"""

import contextlib
import logging
import traceback

import psycopg2.errors

from odoo import Command, api, models, tools
from odoo.tools import SQL

from ..tools import mime, pec, waves
from ..tools.budget import DEFAULT_SECONDS, Budget, OverBudget
from ..tools.retry import ConverterRetry
from ..tools.run_cache import RunCache
from . import email_split_memo
from .mail_converter_contact_claim import ContactBeingCreated
from .mail_converter_planner import CONVERTER_CONCERNS

# Errors another worker's transaction causes; a new transaction usually succeeds.
CONCURRENCY_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    ContactBeingCreated,
)

_logger = logging.getLogger(__name__)


class MailConverter(models.AbstractModel):
    _name = "mail.converter"
    # The concerns also carry out what their stages planned.
    _inherit = list(CONVERTER_CONCERNS)
    _description = "Mail converter pipeline"

    @api.model
    def _process(self, raw, source, origin, retry_log=None):
        """Convert ``raw`` (bytes) found at ``origin`` exactly once; return its log row.

        ``source`` is the mailbox's :class:`tools.source.MailboxSource`. The work is
        isolated in savepoints of the current transaction, which the caller commits.
        Raises :class:`ConverterRetry` when another worker's transaction got in the way:
        the row records the failure, so catch it inside your savepoint and convert the
        email again after a commit (``retry_log``).
        """
        with email_split_memo.remembered():  # Odoo splits the same headers again and again
            summary, log, convert = self._converter_begin(raw, source, origin, retry_log)
            if convert:
                self._convert_logged(raw, summary, source, origin, log)
        return self._converter_finish(log, origin)

    @api.model
    def _converter_begin(
        self, raw, source, origin, retry_log=None, summary=None, unseen=False, claimed=None
    ):
        """Log ``raw`` exactly once and turn away what is too large to import; return its
        summary, its log row and whether it is to be converted now. ``unseen``: a batch
        already looked its key up and found no row, ``claimed``: a batch already claimed
        its row (see ``_log_register``)."""
        summary = summary or self._converter_summarize(raw, source)
        if retry_log:
            log, todo = retry_log, "convert"
            log._converter_count_attempt()
        else:
            log, todo = self._log_register(summary, source, origin, unseen=unseen, claimed=claimed)
        if todo != "convert":
            return summary, log, False
        Planner = self.env["mail.converter.planner"]
        too_large = Planner._converter_too_large(
            max(origin.size, len(raw)), source
        ) or Planner._converter_too_many_parts(raw, source)
        if too_large:
            # Its own savepoint: a batch begins the emails it claimed without one.
            with self.env.cr.savepoint():
                self._log_too_large(log, too_large)
                self._apply_size_notice(log, summary, source, origin, max(origin.size, len(raw)))
            return summary, log, False
        return summary, log, True

    @api.model
    def _converter_finish(self, log, origin):
        """Mark a finished email due for its folder's after-action on the server; return ``log``."""
        if log.state != "failed" and origin.after_action != "keep":
            # An email too large to import is never deleted from the server (nothing is lost).
            log.action_pending = not (log.too_large and origin.after_action == "delete")
        return log

    @api.model
    def _log_too_large(self, log, reason):
        """Record an email that is not imported because of its size: rejected, with the reason."""
        log.write({"state": "rejected", "reason": reason, "too_large": True, "error": False})

    @api.model
    def _process_unreadable(self, unreadable, source, origin):
        """Log a message the mail server would not deliver (a :class:`tools.connection.Unreadable`)
        as failed, so it is retried like any failure and never stops the others; return its row."""
        if unreadable.header:
            summary = mime.summarize(unreadable.header)
        else:
            where = origin.uidl or origin.uid
            summary = mime.MailSummary(
                key=f"unreadable:{source.server_id}:{origin.folder_id}:{where}", message_id=None
            )
        log, todo = self._log_register(summary, source, origin)
        if todo == "convert":
            log.write(
                {
                    "state": "failed",
                    "error": self.env._(
                        "The mail server could not deliver this message: %(error)s",
                        error=unreadable.error,
                    ),
                }
            )
        return log

    @api.model
    def _converter_summarize(self, raw, source):
        """The log summary and exactly-once key of ``raw``: on a certified mailbox, those of the
        message inside the PEC envelope, so the same PEC delivered twice is converted once."""
        summary = mime.summarize(raw)
        if source.is_pec and pec.is_envelope(summary.headers):
            envelope = pec.unwrap(raw)
            if envelope.inner:
                return mime.summarize(envelope.inner)
        return summary

    @api.model
    def _log_values(self, summary, source, origin):
        """Values of the log row for this copy of the email."""
        return {
            "message_key": summary.key,
            "message_id": summary.message_id,
            "server_id": source.server_id or False,
            "folder_id": origin.folder_id or False,
            "uid": origin.uid or 0,
            "uidl": origin.uidl or False,
            "uidvalidity": origin.uidvalidity or 0,
            "direction": origin.direction,
            "company_id": source.company_id or False,
            "email_from": summary.email_from,
            "subject": summary.subject,
            "message_date": summary.date[:64],
            "private": self._converter_summary_private(summary),
            "attempts": 1,  # logged in order to be converted: this is the first attempt
        }

    @api.model
    def _log_register(self, summary, source, origin, unseen=False, claimed=None):
        """Record this copy of the email in the log: claim it, log another copy as a duplicate,
        follow a renumbered folder, or count a new attempt. Return the row and ``convert``,
        ``handled`` or ``skip``.

        ``unseen`` skips the look-up when the caller's look-up of a whole batch found no row
        for this key; the claim still decides against any worker that logged it since.
        ``claimed``: the row the caller already claimed for it (``_log_claim_many``).
        """
        if claimed:
            return claimed, "convert"
        Log = self.env["mail.converter.log"].sudo()
        if unseen:
            primary, verdict = Log, "new"
        else:
            primary, verdict = Log._converter_lookup(summary.key, source.company_id, origin)
        if verdict == "new":
            log = self._log_claim(summary, source, origin)
            if log:
                return log, "convert"
            return self._log_duplicate(Log, summary, source, origin), "handled"
        if verdict == "renumbered":
            # Same folder renumbered (UIDVALIDITY changed): the same copy under a new UID.
            primary.write({"uid": origin.uid, "uidvalidity": origin.uidvalidity})
        if verdict in ("same", "renumbered"):
            return self._seen_again(primary, source)
        return self._log_duplicate(primary, summary, source, origin), "handled"

    @api.model
    def _log_claim(self, summary, source, origin):
        """Insert the log row that claims this email; ``None`` when another worker claimed it first.

        The unique index on the message key and company decides between concurrent workers. The
        insert is the one statement expected to fail in that race, so it runs alone in
        a savepoint, with Odoo's "bad query" report switched off for it (an explicit
        ``log_exceptions=False`` rather than a logging filter).
        """
        logs = self._log_insert([(summary, origin)], source)
        return logs[0] if logs else None

    @api.model
    def _log_claim_many(self, emails, source):
        """Claim all ``emails`` (``[(summary, origin)]``, keys the log has no row for) in one
        insert; return ``{key: log row}``, empty when any of them was claimed by another
        worker meanwhile: then each is claimed alone (``_log_register``), as without a batch."""
        if not emails:
            return {}
        logs = self._log_insert(emails, source)
        return {summary.key: log for (summary, _origin), log in zip(emails, logs, strict=True)}

    @api.model
    def _log_insert(self, emails, source):
        """Insert one failed log row per ``(summary, origin)`` in one statement, in a savepoint;
        return the rows in order, or ``[]`` when the unique index refused any of them."""
        Log = self.env["mail.converter.log"].sudo()
        rows = [
            dict(self._log_values(summary, source, origin), state="failed")
            for summary, origin in emails
        ]
        columns = list(rows[0])
        now = SQL("(now() at time zone 'UTC')")
        uid = self.env.uid
        query = SQL(
            "INSERT INTO mail_converter_log (%s, create_uid, write_uid, create_date, write_date) "
            "VALUES %s RETURNING id",
            SQL(", ").join(SQL.identifier(c) for c in columns),
            SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s, %s)",
                    SQL(", ").join(None if row[c] is False else row[c] for c in columns),
                    uid,
                    uid,
                    now,
                    now,
                )
                for row in rows
            ),
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                ids = [row_id for (row_id,) in self.env.cr.fetchall()]
        except (psycopg2.errors.UniqueViolation, psycopg2.errors.SerializationFailure):
            # Committed by a concurrent worker after this transaction's snapshot was taken.
            return []
        logs = []
        for row, row_id in zip(rows, ids, strict=True):
            log = Log.browse(row_id)
            # What was just inserted need not be read back (privacy, retries and links read it).
            log._update_cache({name: row[name] for name in self._log_claim_cached}, validate=False)
            logs.append(log)
        return logs

    # Fields of a claimed row whose inserted value is put in the cache at once.
    _log_claim_cached = ("private", "state", "attempts", "company_id")

    @api.model
    def _seen_again(self, log, source):
        """The very copy already logged: retry it if it failed, else only finish it on the server.

        An email once too large is looked at again (the limit may have been raised).
        """
        if log.too_large:
            return log, "convert"
        if log.state == "failed":
            if log.attempts >= (source.max_attempts or 1):
                return log, "skip"
            log._converter_count_attempt()
            return log, "convert"
        return log, "handled"

    @api.model
    def _log_duplicate(self, primary, summary, source, origin):
        """Log another copy of an email that was already logged, once per copy."""
        Log = self.env["mail.converter.log"].sudo()
        values = dict(self._log_values(summary, source, origin), state="duplicate", attempts=0)
        values["private"] = values["private"] or primary.private
        if not primary:
            return Log.create(
                dict(values, reason=self.env._("Received at the same time through another mailbox"))
            )
        domain = [
            ("duplicate_of_id", "=", primary.id),
            ("folder_id", "=", origin.folder_id or False),
        ]
        domain.append(("uidl", "=", origin.uidl) if origin.uidl else ("uid", "=", origin.uid))
        copy = Log.search(domain, limit=1)
        if copy:
            return copy
        where = (
            primary.folder_id.display_name or primary.server_id.name or self.env._("a file import")
        )
        return Log.create(
            dict(
                values,
                duplicate_of_id=primary.id,
                reason=self.env._("Already received through %(where)s", where=where),
            )
        )

    @api.model
    def _convert_logged(self, raw, summary, source, origin, log, planned=None):
        """Convert and record the outcome on ``log``; a failure rolls back this email only.
        ``planned``: the ``(mail, plan)`` a batch already made, from the current state."""
        try:
            with self.env.cr.savepoint():
                # Only when given: overrides of _convert written before it took ``planned``.
                given = {"planned": planned} if planned else {}
                values = self._convert(raw, summary, source, origin, log, **given)
                log.write(dict({"too_large": False}, **values, error=False))
                self._keep_original(log, raw, source)
        except Exception as exc:  # noqa: BLE001 - recorded on the log, retried later
            _logger.info(
                "Mail converter: %s failed (attempt %s): %s",
                summary.message_id or summary.key,
                log.attempts,
                exc,
                exc_info=_logger.isEnabledFor(logging.DEBUG),
            )
            self._log_failure(log, raw, exc)
            if isinstance(exc, CONCURRENCY_ERRORS):
                # Another worker's commit got in the way: not an attempt of this email's own.
                log._converter_count_attempt(-1)
                raise ConverterRetry(log) from exc

    @api.model
    def _log_failure(self, log, raw, exc):
        """Record the failure and keep the original, so nothing is lost."""
        vals = {
            "state": "failed",
            "error": f"{tools.exception_to_unicode(exc)}\n\n{''.join(traceback.format_exception(exc))[-4000:]}",
        }
        if isinstance(exc, OverBudget):
            vals["reason"] = str(exc)  # the reason says why, not only the error
        if not log.raw_attachment_id:
            vals["raw_attachment_id"] = self._store_original(log, raw).id
        log.write(vals)

    @api.model
    def _keep_original(self, log, raw, source):
        """Keep the raw email of a converted (or discarded...) one when its mailbox keeps originals,
        so the simulator can replay it; failed emails always keep theirs."""
        if source.save_original and not log.raw_attachment_id:
            log.raw_attachment_id = self._store_original(log, raw)

    @api.model
    def _store_original(self, log, raw):
        """Keep the raw email as an attachment of its log row (retries and the simulator read it)."""
        return (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": "original.eml",
                    "mimetype": "message/rfc822",
                    "raw": raw,
                    "res_model": log._name,
                    "res_id": log.id,
                }
            )
        )

    @api.model
    def _convert(self, raw, summary, source, origin, log, planned=None):
        """Read, plan and apply; return the values that finish ``log``."""
        # Odoo's own look-ups while posting and replying read the run's cache (tools.run_cache).
        self = self.with_context(mail_converter_run_cache=RunCache.of(source))
        mail, plan = planned or self._converter_read_plan(raw, summary, source, origin, log)
        values = self._converter_apply(plan, mail, source, log)
        mail.budget.check("apply")  # over budget: rolled back and logged failed
        return values

    @api.model
    def _converter_read_plan(self, raw, summary, source, origin, log):
        """Read ``raw`` and decide what it becomes, writing nothing; return the mail and its plan."""
        time_budget = Budget(source.extra.get("time_budget", DEFAULT_SECONDS))
        mail = self.env["mail.converter.reader"]._converter_read(raw, source, origin, summary)
        mail.log_id = log.id  # registered exactly once already (_log_register)
        mail.budget = time_budget
        return mail, self.env["mail.converter.planner"]._converter_plan(mail, source)

    @api.model
    def _converter_apply(self, plan, mail, source, log, new_contacts=None):
        """Carry ``plan`` out; return the log values that record it. ``new_contacts`` are the
        plan's contacts when a batch already created them (``mail.converter.batch``)."""
        values = {
            "too_large": plan.too_large,
            "rule_id": plan.rule.id if plan.rule else False,
            "rule_trace": "\n".join(plan.verdicts) or False,
            "private": self._converter_log_private(plan, log),
            **self._log_special_values(plan),  # bounces, BCC logging, PEC
            **self.env["mail.converter.sender.auth"]._converter_log_values(mail.sender_auth),
        }
        if plan.state != "done":
            self._apply_not_converted(plan, mail, source)
            return dict(
                values,
                **self._log_bcc_values(plan),  # the hourly cap may have held the explanation back
                state=plan.state,
                reason=plan.reason,
                ban_id=plan.ban_id or False,
                **self._auto_reply_log_values(plan.auto_reply),
            )
        # special mail: a PEC receipt is a note on its conversation; a BCC log tags its contact
        if plan.kind == "pec_receipt":
            return dict(values, **self._apply_pec_receipt(plan, mail, source, log))
        if plan.kind == "bcc":
            self._apply_bcc(plan)
        if new_contacts is None:
            new_contacts = self._apply_contacts(plan, mail, source)
        # Private from its creation on, so that followers who may not see it are not notified.
        record, message = self.with_context(
            mail_converter_private=self._privacy_context(plan, mail)
        )._apply_route(plan, mail, source, new_contacts)
        if plan.followup and not plan.route.new_contact:
            self._apply_followup(record, message)
        if plan.calendar_answer:
            self._apply_calendar_answer(plan)
        if plan.activity:
            self._apply_activity(plan, record)
        if plan.private:
            self._apply_privacy(plan, message)
        self._apply_cc_followers(plan, record, new_contacts)
        # helpdesk workflow
        self._apply_ticket_followup(plan, mail, record, message)
        values.update(self._apply_auto_reply(plan, mail, source, record, message))
        return dict(
            values,
            state="done",
            reason="; ".join(plan.notes) or False,
            model=record._name,
            res_id=record.id,
            mail_message_id=message.id,
            # A row being converted has no links yet: a failed attempt's links rolled back with it.
            link_ids=self._link_commands(plan, record, new_contacts),
        )

    @api.model
    def _apply_not_converted(self, plan, mail, source):
        """What a discarded, rejected or bounced email still does: a bounce cleans addresses and
        counts for Odoo; a refused BCC email is explained to its sender; a looping sender gets
        Odoo's notice."""
        if plan.kind == "bounce":
            self._apply_bounce(plan, mail, source)
        elif plan.kind == "bcc" and plan.bcc is not None:
            self._apply_bcc_explanation(plan, mail, source)
        if plan.loop_notice:
            self._apply_loop_notice(plan, mail, source)

    @api.model
    def _apply_loop_notice(self, plan, mail, source):
        """Send the notice Odoo's loop guard prepared while planning (``_plan_loop``)."""
        notice = plan.loop_notice
        MailThread = self.env["mail.converter.reader"]._converter_mail_thread(source)
        MailThread._routing_create_bounce_email(
            notice["email_from"], notice["body_html"], mail.message, **notice["mail_values"]
        )

    @api.model
    def _apply_route(self, plan, mail, source, new_contacts):
        """Post the email on the plan's record (creating it if needed); return the record and message."""
        MailThread, msg_dict, routes = self._converter_route_message(
            plan, mail, source, new_contacts, reset_bounce=True
        )
        # A wave's emails share one collector (and so their environments); keyed by message.
        collected = waves.posted_of(self.env.context) or waves.Posted()
        thread_id = MailThread.with_context(mail_converter_posted=collected)._message_route_process(
            mail.message, msg_dict, routes
        )
        record = self.env[routes[0][0]].sudo().browse(thread_id)
        found = collected.find(msg_dict["message_id"], record._name, record.id)
        # In this environment, not the one Odoo's gateway posted in (OdooBot, its context).
        posted = self.env["mail.message"].sudo().browse(found or [])
        if found is None:
            posted = (
                self.env["mail.message"]
                .sudo()
                .search(
                    [
                        ("message_id", "=", msg_dict["message_id"]),
                        ("model", "=", record._name),
                        ("res_id", "=", record.id),
                    ],
                    limit=1,
                    order="id desc",
                )
            )
        return record, posted

    @api.model
    def _converter_route_message(self, plan, mail, source, new_contacts, reset_bounce=False):
        """What Odoo's gateway is given for the plan's route: the ``mail.thread`` environment,
        the parsed email as it posts it (author and recipients resolved) and the routes.
        ``reset_bounce`` also resets the sender's bounce counters, as the plan says."""
        MailThread = self.env["mail.converter.reader"]._converter_mail_thread(source)
        message, msg_dict = mail.message, dict(mail.msg_dict)
        routes = self.env["mail.converter.planner"]._converter_odoo_routes(plan, new_contacts)
        author = (
            plan.author_id or new_contacts.get(plan.author_new_contact, self.env["res.partner"]).id
        )
        if author and not msg_dict.get("author_id"):
            msg_dict["author_id"] = author
        if reset_bounce:
            self._apply_reset_bounce(plan, mail, MailThread, msg_dict)
        msg_dict.update(self._converter_post_process(MailThread, message, msg_dict, routes))
        if mail.sender_auth and mail.sender_auth.untrusted:
            msg_dict["author_id"] = False  # Odoo's guess from email_from is not proof
        return MailThread, msg_dict, routes

    @api.model
    def _converter_post_process(self, MailThread, message, msg_dict, routes):
        """Odoo's ``_message_parse_post_process`` (author and recipients for the routes). A
        wave's email asks it twice, capturing its new record's values and posting: the
        answer of the first is kept on its :class:`tools.waves.BulkCreate` for the second
        (the same routes; no contact is made in between: the wave's came first)."""
        bulk = waves.bulk_create_of(self.env.context)
        if bulk is not None and not bulk.capturing and bulk.post_processed is not None:
            return waves.copy_values(bulk.post_processed)
        values = MailThread._message_parse_post_process(message, msg_dict, routes)
        if bulk is not None and bulk.capturing:
            bulk.post_processed = waves.copy_values(values)
        return values

    @api.model
    def _converter_capture_new(self, plan, mail, source, new_contacts):
        """Run Odoo's ``message_new`` for the plan's new record as ``_message_route_process``
        does, under a capturing :class:`tools.waves.BulkCreate` (in the context): the
        values it would create are recorded, nothing is written. The chain stops at the
        create of the route's record (:class:`tools.waves.Captured`); what it does with
        that record runs when the wave serves it."""
        MailThread, msg_dict, routes = self._converter_route_message(
            plan, mail, source, new_contacts
        )
        model, _thread_id, custom_values, user_id, _alias = routes[0]
        msg_dict.pop("partner_ids", None)
        msg_dict.pop("parent_id", None)  # a new thread has no parent
        Model = (
            MailThread.with_context(attachments_mime_plainxml=True)
            .env[model]
            .with_context(mail_create_nosubscribe=True, mail_create_nolog=True)
        )
        # Stopped once the record's values are captured; the rest of the chain runs when serving.
        with contextlib.suppress(waves.Captured):
            Model.with_user(user_id).sudo().message_new(msg_dict, custom_values)

    @api.model
    def _apply_followup(self, record, message):
        """A follow-up email is unread for the record's responsible, follower or not."""
        user = (
            record.user_id
            if "user_id" in record._fields and record.user_id._name == "res.users"
            else None
        )
        if not message or not user or user.share:
            return
        Notification = self.env["mail.notification"].sudo()
        if not Notification.search_count(
            [("mail_message_id", "=", message.id), ("res_partner_id", "=", user.partner_id.id)],
            limit=1,
        ):
            Notification.create(
                {
                    "mail_message_id": message.id,
                    "res_partner_id": user.partner_id.id,
                    "notification_type": "inbox",
                    "is_read": False,
                }
            )

    @api.model
    def _apply_activity(self, plan, record):
        """The *activity* action: a to-do instead of a lead, for the user the plan chose."""
        record.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=plan.activity["summary"],
            user_id=plan.activity["user_id"],
        )

    @api.model
    def _link_commands(self, plan, record, new_contacts):
        """Every record the email is filed on: the primary one, then the others with why."""
        why = plan.route.why or self.env._("Created from the email")
        links = [
            Command.create(
                {"model": record._name, "res_id": record.id, "role": "primary", "reason": why}
            )
        ]
        filed = {(record._name, record.id)}
        for link in plan.links:
            res_id = link.res_id or new_contacts.get(link.email, self.env["res.partner"]).id
            if res_id and (link.model, res_id) not in filed:
                filed.add((link.model, res_id))
                links.append(
                    Command.create(
                        {
                            "model": link.model,
                            "res_id": res_id,
                            "role": "related",
                            "reason": link.reason,
                        }
                    )
                )
        partner = (
            record.partner_id
            if record._name != "res.partner" and "partner_id" in record._fields
            else None
        )
        if partner and ("res.partner", partner.id) not in filed:
            links.append(
                Command.create(
                    {
                        "model": "res.partner",
                        "res_id": partner.id,
                        "role": "related",
                        "reason": self.env._("Contact of %(record)s", record=record.display_name),
                    }
                )
            )
        return links

    @api.model
    def _log_special_values(self, plan):
        """Log values of the special kinds of mail, all read from the plan; override to log a
        kind of your own, then call ``super()``."""
        values = {"kind": plan.kind if plan.kind in self._special_kinds() else "mail"}
        values.update(self._log_bounce_values(plan))
        values.update(self._log_bcc_values(plan))
        values.update(self._log_pec_values(plan))
        return values

    @api.model
    def _special_kinds(self):
        """The kinds of mail the log knows; override with the log's ``kind`` selection."""
        return dict(self.env["mail.converter.log"]._fields["kind"].selection)

"""The conversion pipeline: log, read, plan, apply. One email per call.

``mail.converter.planner`` decides what an email becomes (the plan, without
writing); this model logs the email exactly once and carries the plan out.
Every email runs inside a savepoint of the caller's transaction: its records
and its log row's outcome are saved together, and a failure rolls back that
email's work only. The caller commits, once per fetched batch.

Each step is a small method meant to be overridden by extending modules.
"""

import logging
import traceback

import psycopg2.errors
from markupsafe import Markup

from odoo import Command, api, fields, models, tools
from odoo.tools import SQL

from ..tools import bounce, mime, pec
from ..tools.addresses import full_name
from ..tools.budget import DEFAULT_SECONDS, Budget
from .mail_converter_contact_claim import ContactBeingCreated

# Errors another worker's transaction causes; a new transaction usually succeeds.
CONCURRENCY_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    ContactBeingCreated,
)

_logger = logging.getLogger(__name__)


class MailConverter(models.AbstractModel):
    _name = "mail.converter"
    _description = "Mail converter pipeline"

    @api.model
    def _process(self, raw, source, origin, retry_log=None):
        """Convert ``raw`` (bytes) found at ``origin`` exactly once; return its log row.

        ``source`` is the mailbox's :class:`tools.source.MailboxSource`. The work is
        isolated in savepoints of the current transaction, which the caller commits.
        """
        summary = self._converter_summarize(raw, source)
        if retry_log:
            log, todo = retry_log, "convert"
            log.attempts += 1
        else:
            log, todo = self._log_seen(summary, source, origin)
        if todo == "convert":
            too_large = self._converter_too_large(raw, source, origin)
            if too_large:
                self._log_too_large(log, too_large)
            else:
                self._convert_logged(raw, summary, source, origin, log)
        if log.state != "failed" and origin.after_action != "keep":
            # An email too large to import is never deleted from the server (nothing is lost).
            log.action_pending = not (log.too_large and origin.after_action == "delete")
        return log

    # -- security (issue 9 part B): hostile input --------------------------------------
    @api.model
    def _converter_too_large(self, raw, source, origin):
        """Why ``raw`` is too large to import (the mailbox's limit), or ``""``; override to
        allow some emails more."""
        size = max(origin.size, len(raw))
        limit = source.max_message_size
        if not limit or size <= limit:
            return ""
        return self.env._(
            "Too large: %(size)s MB > %(limit)s MB (the mailbox's limit); left on the mail server",
            size=round(size / 1048576, 1),
            limit=round(limit / 1048576, 1),
        )

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
        log, todo = self._log_seen(summary, source, origin)
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

    # -- end security ----------------------------------------------------------------------

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

    # -- stage 1: log before converting, exactly once ------------------
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
            "attempts": 1,  # logged in order to be converted: this is the first attempt
        }

    @api.model
    def _log_seen(self, summary, source, origin):
        """Find or create the log row; return it and ``convert``, ``handled`` or ``skip``."""
        Log = self.env["mail.converter.log"].sudo()
        # Exactly once per company: another company's mailbox converts its own copy.
        primary = Log.search(
            [
                ("message_key", "=", summary.key),
                ("state", "!=", "duplicate"),
                ("company_id", "=", source.company_id or False),
            ],
            limit=1,
        )
        if not primary:
            log = self._log_claim(summary, source, origin)
            if log:
                return log, "convert"
            return self._log_duplicate(Log, summary, source, origin), "handled"
        if primary.folder_id.id == origin.folder_id:
            if origin.uidl and primary.uidl == origin.uidl:
                return self._seen_again(primary, source)
            if (
                not origin.uidl
                and primary.uid == origin.uid
                and primary.uidvalidity == origin.uidvalidity
            ):
                return self._seen_again(primary, source)
            if not origin.uidl and primary.uidvalidity != origin.uidvalidity:
                # Same folder renumbered (UIDVALIDITY changed): the same copy under a new UID.
                primary.write({"uid": origin.uid, "uidvalidity": origin.uidvalidity})
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
        Log = self.env["mail.converter.log"].sudo()
        values = dict(self._log_values(summary, source, origin), state="failed")
        columns = list(values)
        row = [None if values[c] is False else values[c] for c in columns]
        now = SQL("(now() at time zone 'UTC')")
        query = SQL(
            "INSERT INTO mail_converter_log (%s, create_uid, write_uid, create_date, write_date) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            SQL(", ").join(SQL.identifier(c) for c in columns),
            SQL(", ").join(row),
            self.env.uid,
            self.env.uid,
            now,
            now,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                return Log.browse(self.env.cr.fetchone()[0])
        except (psycopg2.errors.UniqueViolation, psycopg2.errors.SerializationFailure):
            # Committed by a concurrent worker after this transaction's snapshot was taken.
            return None

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
            log.attempts += 1
            return log, "convert"
        return log, "handled"

    @api.model
    def _log_duplicate(self, primary, summary, source, origin):
        """Log another copy of an email that was already logged, once per copy."""
        Log = self.env["mail.converter.log"].sudo()
        values = dict(self._log_values(summary, source, origin), state="duplicate", attempts=0)
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

    # -- stages 2..4: read, plan, apply inside a savepoint ---------------
    @api.model
    def _convert_logged(self, raw, summary, source, origin, log):
        """Convert and record the outcome on ``log``; a failure rolls back this email only."""
        try:
            with self.env.cr.savepoint():
                values = self._convert(raw, summary, source, origin, log)
                log.write(dict(values, error=False, too_large=False))
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
                # Another worker's commit got in the way: the fetch retries it at once.
                self.env.context.get("mail_converter_transient", set()).add(log.id)

    @api.model
    def _log_failure(self, log, raw, exc):
        """Record the failure and keep the original, so nothing is lost."""
        vals = {
            "state": "failed",
            "error": f"{tools.exception_to_unicode(exc)}\n\n{''.join(traceback.format_exception(exc))[-4000:]}",
        }
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
    def _convert(self, raw, summary, source, origin, log):
        """Read, plan and apply; return the values that finish ``log``."""
        Planner = self.env["mail.converter.planner"]
        time_budget = Budget(source.extra.get("time_budget", DEFAULT_SECONDS))  # C11
        mail = Planner._converter_read(raw, source, origin, summary)
        mail.budget = time_budget
        plan = Planner._converter_plan(mail, source)
        values = self._converter_apply(plan, mail, source, log)
        time_budget.check("apply")  # over budget: rolled back and logged failed
        return values

    # -- applying the plan --------------------------------------------
    @api.model
    def _converter_apply(self, plan, mail, source, log):
        """Carry ``plan`` out; return the log values that record it."""
        values = {
            "rule_id": plan.rule.id if plan.rule else False,
            "rule_trace": "\n".join(plan.verdicts) or False,
            **self._log_special_values(plan),  # bounces, BCC logging, PEC
            **self.env["mail.converter.sender.auth"]._converter_log_values(mail.sender_auth),
        }
        if plan.state != "done":
            self._apply_not_converted(plan, mail, source)
            return dict(
                values,
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
        new_contacts = self._apply_contacts(plan, mail, source)
        # Private from its creation on, so that followers who may not see it are not notified.
        record, message = self.with_context(
            mail_converter_private=self._privacy_context(plan, mail)
        )._apply_route(plan, mail, source, new_contacts)
        if plan.followup and not plan.route.new_contact:
            self._apply_followup(record, message)
        if plan.activity:
            self._apply_activity(plan, record)
        if plan.private:
            self._apply_privacy(plan, message)
        # helpdesk workflow (issue 10)
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
        counts for Odoo; a refused BCC email is explained to its sender."""
        if plan.kind == "bounce":
            self._apply_bounce(plan, mail, source)
        elif plan.kind == "bcc" and plan.bcc is not None:
            self._apply_bcc_explanation(plan, mail, source)

    @api.model
    def _apply_contacts(self, plan, mail, source):
        """Create the plan's new contacts; return them by address."""
        if not plan.contacts:
            return {}
        # One create for all, and no "contact created" note: the email itself is their history.
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_context(mail_create_nolog=True, tracking_disable=True)
        )
        # Another worker creating a contact for the same address makes this email retry at once.
        self.env["mail.converter.contact.claim"].sudo()._converter_claim(
            {new.address.email.lower() for new in plan.contacts}
        )
        partners = Partner.create([self._contact_values(new, source) for new in plan.contacts])
        return dict(zip((new.address.email for new in plan.contacts), partners, strict=True))

    @api.model
    def _contact_values(self, new_contact, source):
        """Values of a contact created from an address; override to add tags, language, ..."""
        address = new_contact.address
        values = {
            "name": full_name(address.name, address.email),
            "email": address.email,
            "mail_converter_created": True,
            "company_id": False,
        }
        if new_contact.company_id:
            values["parent_id"] = new_contact.company_id
        return values

    @api.model
    def _apply_reset_bounce(self, plan, mail, mail_thread, msg_dict):
        """Mail from an address proves it works: Odoo then forgets its bounce count.

        Only records holding the sender's address can have one, and matching already
        found them: when the blocklist-enabled models are the matched ones (contacts,
        leads) and none holds the sender, Odoo's three look-ups are skipped.
        """
        models_with_bounces = self._converter_bounce_models()
        matched = {link.model for link in plan.links if link.role == "from" and link.res_id}
        if set(models_with_bounces) <= {"res.partner", "crm.lead"} and not matched & set(
            models_with_bounces
        ):
            return
        mail_thread._routing_reset_bounce(mail.message, msg_dict)

    @api.model
    @tools.ormcache()
    def _converter_bounce_models(self):
        """Models that count bounces (``mail.thread.blacklist``), as Odoo's reset reads them."""
        return tuple(
            self.env["ir.model"]
            .sudo()
            .search([("is_mail_blacklist", "=", True), ("model", "!=", "mail.thread.blacklist")])
            .mapped("model")
        )

    @api.model
    def _apply_route(self, plan, mail, source, new_contacts):
        """Post the email on the plan's record (creating it if needed); return the record and message."""
        Planner = self.env["mail.converter.planner"]
        MailThread = Planner._converter_mail_thread(source)
        message, msg_dict = mail.message, dict(mail.msg_dict)
        routes = Planner._converter_odoo_routes(plan, new_contacts)
        author = (
            plan.author_id or new_contacts.get(plan.author_new_contact, self.env["res.partner"]).id
        )
        if author and not msg_dict.get("author_id"):
            msg_dict["author_id"] = author
        self._apply_reset_bounce(plan, mail, MailThread, msg_dict)
        msg_dict.update(MailThread._message_parse_post_process(message, msg_dict, routes))
        if mail.sender_auth and mail.sender_auth.untrusted:
            msg_dict["author_id"] = False  # C11: Odoo's guess from email_from is not proof
        thread_id = MailThread._message_route_process(message, msg_dict, routes)
        record = self.env[routes[0][0]].sudo().browse(thread_id)
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
        """The *activity* action: a to-do for the customer's salesperson instead of a lead."""
        record.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=plan.activity["summary"],
            user_id=plan.activity.get("user_id")
            or (record.user_id.id if "user_id" in record._fields else 0)
            or plan.assignee_id
            or self.env.ref("base.user_admin").id,
        )

    @api.model
    def _privacy_context(self, plan, mail):
        """``((message_id, reason),)`` for the email the plan makes private: ``mail.thread``
        creates it private (see ``_message_create``)."""
        if not plan.private:
            return ()
        reason = "; ".join(plan.private_reasons) or self.env._("Private")
        return ((mail.msg_dict.get("message_id"), reason),)

    @api.model
    def _apply_privacy(self, plan, message):
        """Make sure the stored email is private (posted by another path than message_post)."""
        if message and not message.mail_converter_private:
            message.write(
                {
                    "mail_converter_private": True,
                    "mail_converter_private_reason": "; ".join(plan.private_reasons) or False,
                }
            )

    # -- helpdesk workflow (issue 10): follow-ups and acknowledgements ------------------
    @api.model
    def _apply_ticket_followup(self, plan, mail, record, message):
        """A ticket's new or follow-up email: no stage email from helpdesk_mgmt (the
        acknowledgement replaces it); a customer's follow-up flags the ticket and may reopen it."""
        if record._name != "helpdesk.ticket":
            return
        record._mail_converter_silence_stage_mails()
        if not plan.followup or mail.origin.direction != "inbound":
            return
        author = message.author_id.sudo() if message else None
        if author and any(not user.share for user in author.user_ids):
            return  # a colleague's email on the ticket is not the customer's
        values = {"mail_converter_followup": True}
        if plan.reopen_stage_id:
            values["stage_id"] = plan.reopen_stage_id
        record.sudo().write(values)

    @api.model
    def _apply_auto_reply(self, plan, mail, source, record, message):
        """Send the acknowledgement the plan decided, never more than the mailbox's limit per
        sender and hour, whatever the number of workers; return the log values recording it."""
        decision = plan.auto_reply
        if not decision.yes:
            return self._auto_reply_log_values(decision)
        address = decision.detail["to"]
        sent = self._auto_reply_sent_count(address)
        if sent >= source.auto_reply_limit:
            return self._auto_reply_log_values(
                decision,
                not_sent=self.env._(
                    "Loop guard: %(count)s acknowledgements sent to %(email)s in the last hour "
                    "(limit %(limit)s)",
                    count=sent,
                    email=address,
                    limit=source.auto_reply_limit,
                ),
            )
        template = self.env["mail.template"].sudo().browse(source.auto_reply_template_id).exists()
        if not template or record._name != "helpdesk.ticket":
            return self._auto_reply_log_values(
                decision, not_sent=self.env._("The acknowledgement template no longer exists")
            )
        self._auto_reply_send(template, record, source, message, address)
        return dict(self._auto_reply_log_values(decision), auto_reply_date=fields.Datetime.now())

    @api.model
    def _auto_reply_sent_count(self, address):
        """Acknowledgements sent to ``address`` in the last hour, counted under a lock on the address.

        The transaction-level advisory lock makes concurrent workers take turns for one
        address until this transaction commits. A worker's snapshot may predate the
        other's commit (repeatable read), so committed rows are read in a fresh cursor
        and added to this transaction's own.
        """
        self.env.cr.execute(
            SQL(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                f"mail_converter.auto_reply:{address}",
            )
        )
        Planner = self.env["mail.converter.planner"]
        ids = Planner._converter_auto_reply_log_ids(address)
        with self.env.registry.cursor() as cr:
            ids |= Planner._converter_auto_reply_log_ids(address, cr)
        return len(ids)

    @api.model
    def _auto_reply_send(self, template, ticket, source, message, address):
        """Queue the acknowledgement through Odoo's outgoing mail, marked automatic (RFC 3834)."""
        mailbox_address = ticket._mail_converter_mailbox_address()
        values = {
            "headers": repr(self._auto_reply_headers(source)),
            "references": message.message_id if message else False,
            "parent_id": message.id if message else False,
        }
        if not template.email_from and mailbox_address:
            values["email_from"] = mailbox_address
        if not template.reply_to and mailbox_address:
            values["reply_to"] = mailbox_address
        if not (template.partner_to or template.email_to):
            values["email_to"] = address
        mails = template.send_mail(ticket.id, force_send=False, email_values=values)
        cron = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if cron:
            cron._trigger()
        return mails

    @api.model
    def _auto_reply_headers(self, source):
        """Headers of an acknowledgement: automatic (RFC 3834), looped once, not to be answered."""
        return {
            "Auto-Submitted": "auto-replied",
            "X-Loop": source.reply_email or source.name,
            "X-Auto-Response-Suppress": "All",
        }

    @api.model
    def _auto_reply_log_values(self, decision, not_sent=None):
        """The log values recording ``decision`` (a :class:`tools.plan.Decision`)."""
        if not decision.reason:
            return {}
        sent = decision.yes and not not_sent
        return {
            "auto_reply_state": "sent" if sent else "not_sent",
            "auto_reply_reason": not_sent or decision.reason,
            "auto_reply_to": decision.detail.get("to") or False,
        }

    # -- end helpdesk workflow ----------------------------------------------------------

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

    # -- special mail: bounces, BCC logging, certified mail (PEC) ------------------------
    @api.model
    def _log_special_values(self, plan):
        """Log values of the special kinds of mail, all read from the plan."""
        values = {"kind": plan.kind if plan.kind in self._special_kinds() else "mail"}
        if plan.bounce is not None:
            recipients = plan.bounce.recipients
            values.update(
                bounce_recipients=", ".join(r.email for r in recipients) or False,
                bounce_class=plan.bounce.bounce_class or False,
                bounce_diagnostic="\n".join(
                    f"{r.email}: {' '.join(filter(None, (r.status, r.action, r.diagnostic)))}"
                    for r in recipients
                )
                or False,
                bounce_message_id=plan.bounce.original_id or False,
                link_ids=[Command.clear()]
                + [
                    Command.create(
                        {
                            "model": holder.model,
                            "res_id": holder.res_id,
                            "role": "related",
                            "reason": self.env._(
                                "Bounced address %(email)s removed", email=holder.email
                            ),
                        }
                    )
                    for holder in (plan.bounce.holders if plan.bounce.remove else [])
                ],
            )
        if plan.bcc is not None and plan.bcc.explanation.yes:
            values["bcc_explained_to"] = plan.bcc.sender
        if plan.pec is not None:
            values.update(
                pec_receipt_type=plan.pec.receipt_type or False,
                pec_reference=plan.pec.reference or False,
            )
        return values

    @api.model
    def _special_kinds(self):
        """The kinds of mail the log knows; override with the log's ``kind`` selection."""
        return dict(self.env["mail.converter.log"]._fields["kind"].selection)

    @api.model
    def _apply_bounce(self, plan, mail, source):
        """Count the bounce for Odoo; for a hard one (mailbox option), remove the address from the
        records holding it, with a note on each, and blocklist it."""
        self._apply_bounce_counters(plan, mail, source)
        bounce_plan = plan.bounce
        if not bounce_plan.remove or not bounce_plan.hard:
            return
        by_email = {r.email: r for r in bounce_plan.recipients}
        original = self.env["mail.message"].sudo().browse(bounce_plan.original_id).exists()
        for holder in bounce_plan.holders:
            record = self.env[holder.model].sudo().browse(holder.res_id).exists()
            if not record:
                continue
            record.write(
                {holder.field_name: bounce.remove_address(record[holder.field_name], holder.email)}
            )
            record._message_log(body=self._bounce_note(by_email[holder.email], original))
        Blacklist = self.env["mail.blacklist"].sudo()
        for address in bounce_plan.hard:
            Blacklist._add(address, message=self._bounce_note(by_email[address], original))

    @api.model
    def _apply_bounce_counters(self, plan, mail, source):
        """Odoo's own bounce handling (``message_bounce`` counters, failed notifications), once
        per bounced address: its parser only knows a standard report's first recipient."""
        MailThread = self.env["mail.converter.planner"]._converter_mail_thread(source)
        Partner = self.env["res.partner"].sudo()
        base = dict(
            mail.msg_dict,
            bounced_msg_ids=plan.bounce.original_message_ids or False,
            bounced_message=self.env["mail.message"].sudo().browse(plan.bounce.original_id),
        )
        for address in [r.email for r in plan.bounce.recipients] or [False]:
            partners = Partner.search([("email_normalized", "=", address)]) if address else Partner
            MailThread._routing_handle_bounce(
                mail.message, dict(base, bounced_email=address, bounced_partner=partners)
            )

    @api.model
    def _bounce_note(self, recipient, original):
        """The note on a record whose address bounced: which address, when and why."""
        text = self.env._(
            "The address %(email)s bounced on %(when)s and was removed: %(why)s",
            email=recipient.email,
            when=tools.format_datetime(self.env, fields.Datetime.now()),
            why=recipient.diagnostic or recipient.status or self.env._("permanent failure"),
        )
        body = Markup("<p>%s</p>") % text
        if original:
            body += Markup("<p>%s</p>") % self.env._(
                "Undelivered email: %(subject)s",
                subject=original.subject or original.record_name or original.message_id,
            )
        return body

    @api.model
    def _apply_bcc(self, plan):
        """A BCC log: the contact (or the lead's contact) gets the mailbox's tag."""
        if not plan.bcc.category_id:
            return
        record = self.env[plan.route.model].sudo().browse(plan.route.res_id)
        partner = record if record._name == "res.partner" else record.partner_id
        if partner:
            partner.category_id = [Command.link(plan.bcc.category_id)]

    @api.model
    def _apply_bcc_explanation(self, plan, mail, source):
        """Mail the sender why their BCC email was not logged, when the plan says so."""
        if plan.bcc.explanation.yes:
            self.env["mail.mail"].sudo().create(self._bcc_explanation_values(plan, mail, source))

    @api.model
    def _bcc_explanation_values(self, plan, mail, source):
        """The explanation mailed back to a BCC sender; override to change its wording."""
        subject = mail.summary.subject or self.env._("(no subject)")
        body = Markup("<p>%s</p><p><b>%s</b></p><p>%s</p>") % (
            self.env._(
                "Your email \u201c%(subject)s\u201d, sent in BCC to %(mailbox)s, was not logged:",
                subject=subject,
                mailbox=source.name,
            ),
            plan.reason,
            self.env._(
                "Send it again with exactly one customer (a contact or a lead known to Odoo) in "
                "To, from your own address or an accepted sender address."
            ),
        )
        message_id = mail.summary.message_id
        headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
        if message_id:
            headers.update({"In-Reply-To": message_id, "References": message_id})
        return {
            "subject": self.env._("Not logged: %(subject)s", subject=subject),
            "body_html": body,
            "email_to": plan.bcc.sender,
            "email_from": source.bcc_reply_from or False,
            "auto_delete": True,
            "headers": repr(headers),
        }

    @api.model
    def _apply_pec_receipt(self, plan, mail, source, log):
        """File a PEC receipt on its conversation as a note, with ``daticert.xml`` and the
        receipt itself attached; return the log values."""
        record = self.env[plan.route.model].sudo().browse(plan.route.res_id)
        envelope = mail.pec
        attachments = [(pec.DATICERT_NAME, envelope.daticert)] if envelope.daticert else []
        attachments.append(("pec-receipt.eml", envelope.envelope))
        label = self.env["mail.converter.planner"]._converter_pec_receipt_label(
            plan.pec.receipt_type
        )
        lines = [self.env._("PEC receipt: %(type)s", type=label)]
        data = envelope.data
        if data.get("consegna") or data.get("destinatari"):
            lines.append(
                self.env._(
                    "Recipient: %(to)s", to=", ".join(data.get("consegna") or data["destinatari"])
                )
            )
        if data.get("data"):
            lines.append(
                self.env._(
                    "Certified on %(date)s by %(provider)s",
                    date=data["data"],
                    provider=data.get("gestore-emittente") or envelope.sender,
                )
            )
        if data.get("errore-esteso"):
            lines.append(self.env._("Error: %(error)s", error=data["errore-esteso"]))
        message = record.with_context(mail_create_nosubscribe=True).message_post(
            body=Markup("<br/>").join(lines),
            subject=mail.summary.subject or False,
            message_type="notification",
            subtype_xmlid="mail.mt_note",
            author_id=self.env.ref("base.partner_root").id,
            attachments=attachments,
            **({"message_id": mail.summary.message_id} if mail.summary.message_id else {}),
        )
        if plan.private:
            self._apply_privacy(plan, message)
        return {
            "state": "done",
            "reason": "; ".join(plan.notes) or False,
            "model": record._name,
            "res_id": record.id,
            "mail_message_id": message.id,
            "link_ids": [Command.clear()] * bool(log.link_ids)
            + self._link_commands(plan, record, {}),
        }

"""The conversion pipeline: log, parse, decide, apply. One email per call.

Each stage is a small method meant to be overridden by extending modules.
The caller owns the transaction: it commits after each call, so a message's
records and its log row are saved together or not at all.
"""

import email
import email.policy
import logging
import traceback

import psycopg2.errors

from odoo import api, models, tools
from odoo.tools import mute_logger

from ..tools import mime

_logger = logging.getLogger(__name__)


class MailConverter(models.AbstractModel):
    _name = "mail.converter"
    _description = "Mail converter pipeline"

    @api.model
    def _process(self, raw, source, retry_log=None):
        """Convert ``raw`` (bytes) from ``source`` exactly once; return its log row."""
        summary = mime.summarize(raw)
        if retry_log:
            log, todo = retry_log, "convert"
        else:
            log, todo = self._log_seen(summary, source)
        if todo == "convert":
            self._convert_logged(raw, summary, source, log)
        if log.state != "failed" and source["folder"] and source["folder"].after_action != "keep":
            log.action_pending = True
        return log

    # -- stage 1: log before converting, exactly once ------------------
    @api.model
    def _log_values(self, summary, source):
        """Values of the log row for this copy of the email."""
        return {
            "message_key": summary.key,
            "message_id": summary.message_id,
            "server_id": source["server"].id,
            "folder_id": source["folder"].id,
            "uid": source["uid"] or 0,
            "uidl": source["uidl"] or False,
            "uidvalidity": source["uidvalidity"] or 0,
            "direction": source["direction"],
            "email_from": summary.email_from,
            "subject": summary.subject,
            "message_date": summary.date[:64],
        }

    @api.model
    def _log_seen(self, summary, source):
        """Find or create the log row; return it and ``convert``, ``handled`` or ``skip``."""
        Log = self.env["mail.converter.log"].sudo()
        primary = Log.search([("message_key", "=", summary.key), ("state", "!=", "duplicate")], limit=1)
        if not primary:
            try:
                # The unique index makes a concurrent worker wait here for the first
                # one to commit, then fail: an expected race, not an error to log.
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    return Log.create(self._log_values(summary, source)), "convert"
            except psycopg2.errors.UniqueViolation:
                # Another worker logged the same email meanwhile (and has committed).
                self.env.invalidate_all()
                primary = Log.search([("message_key", "=", summary.key), ("state", "!=", "duplicate")], limit=1)
        if primary.folder_id == source["folder"]:
            if source["uidl"] and primary.uidl == source["uidl"]:
                return self._seen_again(primary, source)
            if not source["uidl"] and primary.uid == source["uid"] and primary.uidvalidity == source["uidvalidity"]:
                return self._seen_again(primary, source)
            if not source["uidl"] and primary.uidvalidity != source["uidvalidity"]:
                # Same folder renumbered (UIDVALIDITY changed): the same copy under a new UID.
                primary.write({"uid": source["uid"], "uidvalidity": source["uidvalidity"]})
                return self._seen_again(primary, source)
        return self._log_duplicate(primary, summary, source), "handled"

    @api.model
    def _seen_again(self, log, source):
        """The very copy already logged: retry it if it failed, else only finish it on the server."""
        if log.state == "failed":
            return log, ("convert" if log._converter_should_retry() else "skip")
        return log, "handled"

    @api.model
    def _log_duplicate(self, primary, summary, source):
        """Log another copy of an email that was already logged, once per copy."""
        Log = self.env["mail.converter.log"].sudo()
        if not primary:
            # Committed by a concurrent worker after this transaction's snapshot was taken.
            return Log.create(dict(self._log_values(summary, source), state="duplicate",
                                   reason=self.env._("Received at the same time through another mailbox")))
        domain = [("duplicate_of_id", "=", primary.id), ("folder_id", "=", source["folder"].id)]
        domain.append(("uidl", "=", source["uidl"]) if source["uidl"] else ("uid", "=", source["uid"]))
        copy = Log.search(domain, limit=1)
        if copy:
            return copy
        where = primary.folder_id.display_name or primary.server_id.name or self.env._("a file import")
        return Log.create(dict(
            self._log_values(summary, source),
            state="duplicate",
            duplicate_of_id=primary.id,
            reason=self.env._("Already received through %(where)s", where=where),
        ))

    # -- stage 2..4: parse, decide, apply inside a savepoint -----------
    @api.model
    def _convert_logged(self, raw, summary, source, log):
        """Convert and record the outcome on ``log``; failures roll back this email only."""
        log.attempts += 1
        try:
            with self.env.cr.savepoint():
                result = self._convert(raw, summary, source, log)
        except Exception as exc:  # noqa: BLE001 - recorded on the log, retried later
            self.env.invalidate_all()
            _logger.info("Mail converter: %s failed (attempt %s): %s", summary.message_id or summary.key,
                         log.attempts, exc, exc_info=_logger.isEnabledFor(logging.DEBUG))
            self._log_failure(log, raw, exc)
            return
        log.write(dict(result, error=False))

    @api.model
    def _log_failure(self, log, raw, exc):
        """Mark ``log`` failed and keep the original so nothing is lost."""
        vals = {
            "state": "failed",
            "error": f"{tools.exception_to_unicode(exc)}\n\n{''.join(traceback.format_exception(exc))[-4000:]}",
        }
        if not log.raw_attachment_id:
            vals["raw_attachment_id"] = self.env["ir.attachment"].sudo().create({
                "name": "original.eml",
                "mimetype": "message/rfc822",
                "raw": raw,
                "res_model": log._name,
                "res_id": log.id,
            }).id
        log.write(vals)

    @api.model
    def _convert(self, raw, summary, source, log):
        """Parse, decide and apply; return the values that finish ``log``."""
        message = self._parse_message(raw)
        repairs = mime.repair_charsets(message)
        server = source["server"]
        MailThread = self._mail_thread(server)
        msg_dict = MailThread.message_parse(message, save_original=server.original)
        if not server.attach:
            msg_dict.pop("attachments", None)
        reason = self._discard_reason(message, msg_dict, source)
        if reason:
            return {"state": "discarded", "reason": reason}
        routes = self._routes(message, msg_dict, source)
        if not routes:
            if msg_dict.get("is_bounce"):
                return {"state": "bounce", "reason": self.env._("Delivery failure report")}
            return {"state": "discarded", "reason": self.env._("No destination record was found")}
        if MailThread._detect_loop_sender(message, msg_dict, routes):
            return {"state": "discarded", "reason": self.env._("Mail loop detected (too many emails from this sender)")}
        msg_dict.update(MailThread._message_parse_post_process(message, msg_dict, routes))
        thread_id = MailThread._message_route_process(message, msg_dict, routes)
        result = self._result_values(log, routes[0][0], thread_id, msg_dict)
        if repairs:
            result["reason"] = "; ".join(repairs).capitalize()
        return result

    @api.model
    def _mail_thread(self, server):
        """The ``mail.thread`` environment used for parsing and routing."""
        return self.env["mail.thread"].with_context(
            default_fetchmail_server_id=server.id, mail_converter_importing=True,
        )

    @api.model
    def _parse_message(self, raw):
        """Build an :class:`email.message.EmailMessage` as Odoo's gateway does."""
        return email.message_from_bytes(raw, policy=email.policy.SMTP)

    @api.model
    def _discard_reason(self, message, msg_dict, source):
        """Return why this email must not be imported, or ``None`` to import it."""
        msg_id = msg_dict.get("message_id")
        if msg_id and self.env["mail.message"].sudo().search_count([("message_id", "=", msg_id)], limit=1):
            return self.env._("Already in Odoo (sent or imported by this database)")
        if self.env["mail.thread"]._detect_loop_headers(msg_dict):
            return self.env._("Reply to a bounce notification (mail loop)")
        return None

    @api.model
    def _routes(self, message, msg_dict, source):
        """Where the email goes, as ``mail.thread.message_route`` routes."""
        server = source["server"]
        return self._mail_thread(server).message_route(
            message, msg_dict, model=server.object_id.model or None,
        )

    @api.model
    def _result_values(self, log, model, thread_id, msg_dict):
        """Log values after a successful conversion, with the records it was filed on."""
        mail_message = self.env["mail.message"].sudo().search(
            [("message_id", "=", msg_dict["message_id"]), ("model", "=", model), ("res_id", "=", thread_id)],
            limit=1, order="id desc",
        )
        return {
            "state": "done",
            "reason": False,
            "model": model,
            "res_id": thread_id,
            "mail_message_id": mail_message.id,
            "link_ids": [(5, 0, 0), (0, 0, {"model": model, "res_id": thread_id, "role": "primary",
                                            "reason": self.env._("Created or updated by the email")})],
        }

"""The conversion pipeline: log, parse, decide, apply. One email per call.

Each stage is a small method meant to be overridden by extending modules.
Every email runs in a transaction of its own, which the caller commits: its
records and its log row are saved together or not at all. On failure the
pipeline rolls that transaction back and records the failure in it instead.
"""

import contextlib
import email
import email.policy
import logging
import re
import threading
import traceback

import psycopg2.errors

from odoo import Command, api, models, tools
from odoo.tools import SQL

from ..tools import addresses, matcher, mime
from ..tools import rules as rules_engine

_logger = logging.getLogger(__name__)
_expected_sql_error = threading.local()


class _ExpectedSqlErrorFilter(logging.Filter):
    """Drop odoo.sql_db's report of an error this thread expects and handles.

    Unlike ``mute_logger`` it is per thread: concurrent workers cannot unmute
    each other, nor hide another thread's real errors.
    """

    def filter(self, record):
        return not getattr(_expected_sql_error, "active", False)


_sql_logger = logging.getLogger("odoo.sql_db")
if not any(type(f).__name__ == "_ExpectedSqlErrorFilter" for f in _sql_logger.filters):
    _sql_logger.addFilter(_ExpectedSqlErrorFilter())


@contextlib.contextmanager
def _sql_error_expected():
    _expected_sql_error.active = True
    try:
        yield
    finally:
        _expected_sql_error.active = False


class MailConverter(models.AbstractModel):
    _name = "mail.converter"
    _description = "Mail converter pipeline"

    @api.model
    def _process(self, raw, source, retry_log=None):
        """Convert ``raw`` (bytes) from ``source`` exactly once; return its log row.

        Call it at the start of a transaction of its own (it may roll it back).
        """
        summary = mime.summarize(raw)
        if retry_log:
            log, todo = retry_log, "convert"
            log.attempts += 1
        else:
            log, todo = self._log_seen(summary, source)
        if todo == "convert":
            log = self._convert_logged(raw, summary, source, log)
        if log.state != "failed" and source["after_action"] != "keep":
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
            "company_id": source["company_id"],
            "email_from": summary.email_from,
            "subject": summary.subject,
            "message_date": summary.date[:64],
            "attempts": 1,  # logged in order to be converted: this is the first attempt
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
                with _sql_error_expected():
                    log = Log.create(self._log_values(summary, source))
                    log.flush_recordset()
                return log, "convert"
            except psycopg2.errors.UniqueViolation:
                # Another worker logged it meanwhile; a new transaction sees its row.
                self.env.cr.rollback()
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
            if not log._converter_should_retry():
                return log, "skip"
            log.attempts += 1
            return log, "convert"
        return log, "handled"

    @api.model
    def _log_duplicate(self, primary, summary, source):
        """Log another copy of an email that was already logged, once per copy."""
        Log = self.env["mail.converter.log"].sudo()
        if not primary:
            # Committed by a concurrent worker after this transaction's snapshot was taken.
            return Log.create(dict(self._log_values(summary, source), state="duplicate", attempts=0,
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
            attempts=0,
            duplicate_of_id=primary.id,
            reason=self.env._("Already received through %(where)s", where=where),
        ))

    # -- stage 2..4: parse, decide, apply inside a savepoint -----------
    @api.model
    def _convert_logged(self, raw, summary, source, log):
        """Convert and record the outcome on ``log``; a failure rolls back this email only."""
        log_id, attempts = log.id, log.attempts
        try:
            result = self._convert(raw, summary, source, log)
            log.write(dict(result, error=False))
            self.env.flush_all()  # constraint errors belong to this email too
        except Exception as exc:  # noqa: BLE001 - recorded on the log, retried later
            self.env.cr.rollback()
            _logger.info("Mail converter: %s failed (attempt %s): %s", summary.message_id or summary.key,
                         attempts, exc, exc_info=_logger.isEnabledFor(logging.DEBUG))
            log = self._log_failure(log_id, attempts, raw, summary, source, exc)
        return log

    @api.model
    def _log_failure(self, log_id, attempts, raw, summary, source, exc):
        """Record the failure after the rollback and keep the original, so nothing is lost."""
        log = self.env["mail.converter.log"].sudo().browse(log_id).exists()
        if not log:
            # The row was created in the transaction just rolled back: log it again.
            log, todo = self._log_seen(summary, source)
            if todo != "convert":
                return log
        vals = {
            "attempts": attempts,
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
        return log

    @api.model
    def _convert(self, raw, summary, source, log):
        """Parse, decide and apply; return the values that finish ``log``."""
        message = self._parse_message(raw)
        repairs = mime.repair_charsets(message)
        MailThread = self._mail_thread(source)
        msg_dict = MailThread.message_parse(message, save_original=source["save_original"])
        if source["strip_attachments"]:
            msg_dict.pop("attachments", None)
        matches = self._match(summary, source)
        reason = self._discard_reason(message, msg_dict, source, matches)
        if reason:
            return {"state": "discarded", "reason": reason}
        to_create = self._contacts_to_create(summary, source, matches)
        routes = self._routes(message, msg_dict, source)
        if msg_dict.get("is_bounce") and not routes:
            # Odoo's gateway has handled it (bounce counters); it is no conversation to file.
            return {"state": "bounce", "reason": self.env._("Delivery failure report")}
        routes = self._tag_routes(msg_dict, source, matches, routes)
        rule, trace, private = self._decide(summary, msg_dict, source, matches)
        decided = {"rule_id": rule.id if rule else False, "rule_trace": trace or False}
        if rule and rule.action == "discard":
            return dict(decided, state="discarded", reason=self.env._("Rule %(rule)s", rule=rule.name))
        if source["rules"]:
            routes = self._rule_routes(rule, routes, msg_dict, source, matches)
        if source["only_linked"] and not (to_create or any(route[1] for route in routes)
                                          or self._linked_beyond_users(matches)):
            return dict(decided, state="discarded",
                        reason=self.env._("Not linked to any contact, company or lead"))
        self._create_contacts(to_create, source, matches)
        routes = routes or self._fallback_routes(msg_dict, source, matches, link_only=bool(source["rules"]))
        if not routes:
            return dict(decided, state="discarded", reason=self.env._("No destination record was found"))
        routes = self._assign(routes, source, matches)
        if MailThread._detect_loop_sender(message, msg_dict, routes):
            return dict(decided, state="discarded",
                        reason=self.env._("Mail loop detected (too many emails from this sender)"))
        if not msg_dict.get("author_id") and matches.author():
            # Odoo takes the oldest contact with the address; the display name told us which one.
            msg_dict["author_id"] = matches.author()
        msg_dict.update(MailThread._message_parse_post_process(message, msg_dict, routes))
        posted = []
        thread_id = MailThread.with_context(mail_converter_posted=posted)._message_route_process(
            message, msg_dict, routes)
        result = self._result_values(log, routes[0][0], thread_id, msg_dict, posted, matches,
                                     updated=bool(routes[0][1]))
        if routes[0][1] and result.get("mail_message_id"):
            self._flag_followup(routes[0][0], thread_id, result["mail_message_id"])
        if repairs:
            result["reason"] = "; ".join(filter(None, [result["reason"], "; ".join(repairs).capitalize()]))
        if rule:
            self._apply_rule_after(rule, result, msg_dict, source, matches, private)
        return dict(result, **decided)

    @api.model
    def _mail_thread(self, source):
        """The ``mail.thread`` environment used for parsing and routing."""
        return self.env["mail.thread"].with_context(
            default_fetchmail_server_id=source["server"].id, mail_converter_importing=True,
        )

    @api.model
    def _parse_message(self, raw):
        """Build an :class:`email.message.EmailMessage` as Odoo's gateway does."""
        return email.message_from_bytes(raw, policy=email.policy.SMTP)

    @api.model
    def _discard_reason(self, message, msg_dict, source, matches):
        """Return why this email must not be imported, or ``None`` to import it."""
        staff = {a.email for a in matches.addresses} & source["excluded_addresses"]
        if staff:
            return self.env._("%(email)s is on the mailbox's never-import list", email=sorted(staff)[0])
        if matches.excluded:
            excluded = matches.excluded[0]
            record = self.env[excluded.model].sudo().browse(excluded.res_id)
            return self.env._("%(record)s (%(email)s) is excluded from email import",
                              record=record.display_name, email=excluded.email)
        msg_id = msg_dict.get("message_id")
        if msg_id and self.env["mail.message"].sudo().search_count([("message_id", "=", msg_id)], limit=1):
            return self.env._("Already in Odoo (sent or imported by this database)")
        if self.env["mail.thread"]._detect_loop_headers(msg_dict):
            return self.env._("Reply to a bounce notification (mail loop)")
        return None

    # -- matching -----------------------------------------------------
    @api.model
    def _match(self, summary, source):
        """Find every record the email's addresses belong to (one query)."""
        found = addresses.collect(summary.address_headers)
        candidates, companies = self._match_candidates([a.email for a in found])
        result = matcher.match(found, candidates, companies)
        result.addresses = found
        return result

    @api.model
    def _match_candidates(self, emails):
        """Contacts, leads and internal users holding ``emails``, with each contact's company.

        One indexed query whatever the number of addresses; records are read
        as the system does, the links are what users then see through access rules.
        """
        if not emails:
            return [], {}
        self.env["res.partner"].flush_model(["email_normalized", "active", "name", "mail_converter_exclude",
                                             "commercial_partner_id"])
        self.env["crm.lead"].flush_model(["email_normalized", "active", "mail_converter_exclude"])
        self.env["res.users"].flush_model(["active", "share", "partner_id"])
        self.env.cr.execute(SQL("""
            SELECT 'res.partner', p.id, p.email_normalized, p.name, p.mail_converter_exclude,
                   c.id, c.name, c.mail_converter_exclude
              FROM res_partner p
         LEFT JOIN res_partner c ON c.id = p.commercial_partner_id AND c.id != p.id AND c.active
             WHERE p.active AND p.email_normalized = ANY(%(emails)s)
         UNION ALL
            SELECT 'crm.lead', l.id, l.email_normalized,
                   COALESCE(NULLIF(l.contact_name, ''), NULLIF(l.partner_name, ''), l.name),
                   l.mail_converter_exclude, NULL, NULL, NULL
              FROM crm_lead l
             WHERE l.active AND l.email_normalized = ANY(%(emails)s)
         UNION ALL
            SELECT 'res.users', u.id, p.email_normalized, p.name, FALSE, NULL, NULL, NULL
              FROM res_users u JOIN res_partner p ON p.id = u.partner_id
             WHERE u.active AND u.share IS NOT TRUE AND p.email_normalized = ANY(%(emails)s)
          ORDER BY 1, 2
        """, emails=list(emails)))
        candidates, companies = [], {}
        for model, res_id, address, name, exclude, company_id, company_name, company_exclude in self.env.cr.fetchall():
            candidates.append(matcher.Candidate(model, res_id, address, name or "", bool(exclude)))
            if company_id:
                companies[res_id] = (company_id, company_name, bool(company_exclude))
        return candidates, companies

    @api.model
    def _routes(self, message, msg_dict, source):
        """Where the email goes by itself, as ``mail.thread.message_route`` routes.

        Inbound mail falls back to a new record of the mailbox's model. Outbound
        mail only follows its reply headers: sent mail never opens a ticket.
        """
        MailThread = self._mail_thread(source)
        if source["direction"] == "outbound":
            try:
                return MailThread.message_route(message, msg_dict, model=None)
            except ValueError:  # no conversation of ours: filed on its recipients instead
                return []
        return MailThread.message_route(message, msg_dict, model=source["model"])

    @api.model
    def _tag_routes(self, msg_dict, source, matches, routes):
        """File the email on records named by ID tags; the first one receives it unless a reply
        header already chose its conversation."""
        tagged = self.env["mail.converter.tag"]._find_records(
            source["tag_patterns"], msg_dict.get("subject"), str(msg_dict.get("body") or ""))
        for name, record in tagged:
            matches.links.append(matcher.Link(record._name, record.id, "", "tag",
                                              self.env._("Tag %(tag)s: %(record)s", tag=name,
                                                         record=record.display_name)))
        if tagged and not any(route[1] for route in routes):
            record = tagged[0][1]
            return [(record._name, record.id, {}, self.env.uid, False)]
        return routes

    @api.model
    def _linked_beyond_users(self, matches):
        """Whether the email concerns a record other than internal users (or their own contacts)."""
        staff = {link.email for link in matches.links if link.model == "res.users"}
        return any(link.model != "res.users" and link.email not in staff for link in matches.links)

    @api.model
    def _fallback_routes(self, msg_dict, source, matches, link_only=False):
        """Routes for mail that starts nothing by itself: it is kept on the first record it concerns
        (for outbound mail, its first known recipient)."""
        if source["direction"] != "outbound" and not link_only:
            return []
        roles = ("to", "cc") if source["direction"] == "outbound" else ("from", "to", "cc", "delivered-to", "bcc")
        staff = {link.email for link in matches.links if link.model == "res.users"}
        for link in matches.links:
            if link.model in ("res.partner", "crm.lead") and link.role in roles and link.email not in staff:
                return [(link.model, link.res_id, {}, self.env.uid, False)]
        return []

    # -- rules ----------------------------------------------------------
    @api.model
    def _rule_email(self, summary, msg_dict, matches):
        """The email as rule conditions see it."""
        headers = {}
        for name, values in summary.address_headers.items():
            headers[name] = [mime.decode_header_value(v) for v in values]
        for name, value in summary.headers.items():
            headers.setdefault(name, [value])
        by_role = {}
        for address in matches.addresses:
            by_role.setdefault(address.role, []).append(address.email)
        body = tools.html2plaintext(msg_dict.get("body") or "") if msg_dict.get("body") else ""
        return rules_engine.Email(headers=headers, addresses=by_role, body=body)

    @api.model
    def _decide(self, summary, msg_dict, source, matches, explain=False):
        """Return the rule that decides what the email becomes (a :class:`tools.rules.Rule`, or
        None), the verdict of every rule, and whether a matching rule makes it private.

        The first matching rule that does more than filing decides; rules that only file
        (action *link*, usually without *stop*) can still mark the email private.
        """
        if not source["rules"]:
            return None, "", False
        matched, verdicts = rules_engine.evaluate(
            source["rules"], self._rule_email(summary, msg_dict, matches), source["server"].id,
            source["direction"], explain=explain)
        trace = "\n".join(self._verdict_line(v) for v in verdicts)
        if not matched:
            return None, trace, False
        deciding = next((r for r in matched if r.action != "link"), matched[0])
        private = any(source["rule_values"][r.id]["private"] for r in matched)
        return deciding, trace, private

    @api.model
    def _verdict_line(self, verdict):
        if verdict.status == "skipped":
            return f"- {verdict.rule.name}: skipped ({verdict.reason})"
        answers = {True: "yes", False: "no", None: "not needed"}
        checks = ", ".join(f"{c.describe()} {answers[ok]}" for c, ok in verdict.conditions)
        head = "MATCHED" if verdict.status == "matched" else "no match"
        return f"- {verdict.rule.name}: {head}" + (f" [{checks}]" if checks else " [no conditions]")

    @api.model
    def _rule_routes(self, rule, routes, msg_dict, source, matches):
        """Routes decided by ``rule``; a reply to an existing conversation always stays in it."""
        if any(route[1] for route in routes):
            return routes
        uid = self.env.uid
        if rule is None or rule.action == "link":
            return []
        if rule.action == "ticket_update":
            ticket = self._ticket_by_tag(source["rule_values"][rule.id]["tag_regex"], msg_dict)
            if ticket:
                return [("helpdesk.ticket", ticket.id, {}, uid, False)]
        values = source["rule_values"][rule.id]
        if rule.action in ("ticket", "ticket_update"):
            return [("helpdesk.ticket", False, dict(values["ticket"]), uid, False)]
        if rule.action == "activity" and matches.author():
            return [("res.partner", matches.author(), {}, uid, False)]
        return [("crm.lead", False, dict(values["lead"]), uid, False)]

    @api.model
    def _ticket_by_tag(self, tag_regex, msg_dict):
        """The ticket whose number ``tag_regex`` captures in the subject."""
        found = re.search(tag_regex, msg_dict.get("subject") or "", re.IGNORECASE) if tag_regex else None
        if not found:
            return self.env["helpdesk.ticket"]
        number = found.group(1) if found.groups() else found.group(0)
        return self.env["helpdesk.ticket"].sudo().search([("number", "=ilike", number)], limit=1)

    @api.model
    def _flag_followup(self, model, res_id, message_id):
        """A follow-up email is unread for the record's responsible, follower or not."""
        record = self.env[model].sudo().browse(res_id)
        user = record.user_id if "user_id" in record._fields and record.user_id._name == "res.users" else None
        if not user or user.share:
            return
        Notification = self.env["mail.notification"].sudo()
        if not Notification.search_count([("mail_message_id", "=", message_id),
                                          ("res_partner_id", "=", user.partner_id.id)], limit=1):
            Notification.create({"mail_message_id": message_id, "res_partner_id": user.partner_id.id,
                                 "notification_type": "inbox", "is_read": False})

    @api.model
    def _apply_rule_after(self, rule, result, msg_dict, source, matches, private=False):
        """What rules do once the email is stored: privacy, activities."""
        message = self.env["mail.message"].sudo().browse(result.get("mail_message_id"))
        if private and message:
            message.mail_converter_private = True
        if rule.action == "activity" and result.get("model") == "res.partner":
            partner = self.env["res.partner"].sudo().browse(result["res_id"])
            partner.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=msg_dict.get("subject") or self.env._("Email to follow up"),
                user_id=source["rule_values"][rule.id]["activity_user_id"] or partner.user_id.id
                or self._assignee(source, matches)
                or self.env.ref("base.user_admin").id,
            )

    @api.model
    def _assignee(self, source, matches):
        """The user new records are assigned to: the sender of outbound mail, else the first user
        among the To addresses, else the mailbox's default responsible."""
        wanted = ("from",) if source["direction"] == "outbound" else ("to",)
        for link in matches.links:
            if link.model == "res.users" and link.role in wanted:
                return link.res_id
        return source["default_user_id"] or False

    @api.model
    def _assign(self, routes, source, matches):
        """Give new records of routes a responsible user when their model has one."""
        user_id = self._assignee(source, matches)
        if not user_id:
            return routes
        result = []
        for model, thread_id, custom_values, route_user_id, alias in routes:
            if not thread_id and "user_id" in self.env[model]._fields:
                custom_values = dict(custom_values or {})
                custom_values.setdefault("user_id", user_id)
            result.append((model, thread_id, custom_values, route_user_id, alias))
        return result

    # -- contacts -------------------------------------------------------
    @api.model
    def _contacts_to_create(self, summary, source, matches):
        """Addresses that should become contacts, by the mailbox's options."""
        known = {link.email for link in matches.links if link.model in ("res.partner", "res.users")}
        found = matches.addresses
        if source["direction"] == "outbound":
            if not source["create_outbound_contacts"]:
                return []
            wanted = [a for a in found if a.role in ("to", "cc")]
        else:
            recipients = {a.email for a in found if a.role != "from"}
            if not recipients & source["contact_creation_addresses"]:
                return []
            wanted = [a for a in found if a.role == "from"]
        wanted = [a for a in wanted if a.email not in known and a.email not in source["contact_creation_addresses"]]
        aliases = set(self.env["mail.alias.domain"].sudo()._find_aliases([a.email for a in wanted]))
        return [a for a in wanted if a.email not in aliases]

    @api.model
    def _create_contacts(self, to_create, source, matches):
        """Create the contacts and file the email on them (and on their company)."""
        Partner = self.env["res.partner"].sudo()
        for address in to_create:
            values = self._contact_values(address, source)
            partner = Partner.create(values)
            matches.links.append(matcher.Link(
                "res.partner", partner.id, address.email, address.role,
                self.env._("New contact for %(email)s", email=address.email)))
            if partner.parent_id:
                matches.links.append(matcher.Link(
                    "res.partner", partner.parent_id.id, address.email, address.role,
                    self.env._("Company of %(name)s (same domain)", name=partner.name), via_company=True))

    @api.model
    def _contact_values(self, address, source):
        """Values of a contact created from an address; override to add tags, language, ..."""
        values = {
            "name": addresses.full_name(address.name, address.email),
            "email": address.email,
            "mail_converter_created": True,
            "company_id": False,
        }
        if source["link_company_by_domain"]:
            company = self._company_for_domain(address.domain)
            if company:
                values["parent_id"] = company.id
        return values

    @api.model
    def _company_for_domain(self, domain):
        """The company whose website is on ``domain``; free-mail domains never match."""
        if not domain or addresses.is_freemail(domain):
            return self.env["res.partner"]
        companies = self.env["res.partner"].sudo().search(
            [("is_company", "=", True), ("website", "ilike", domain)], limit=20, order="id")
        return companies.filtered(lambda c: addresses.website_domain(c.website) == domain)[:1]

    @api.model
    def _result_values(self, log, model, thread_id, msg_dict, posted=(), matches=None, updated=False):
        """Log values after a successful conversion, with the records it was filed on."""
        mail_message = next((m for m in posted if m.message_id == msg_dict["message_id"]), None)
        if mail_message is None:
            mail_message = self.env["mail.message"].sudo().search(
                [("message_id", "=", msg_dict["message_id"]), ("model", "=", model), ("res_id", "=", thread_id)],
                limit=1, order="id desc",
            )
        why = next((link.reason for link in matches.links if (link.model, link.res_id) == (model, thread_id)),
                   None) if matches else None
        links = [Command.create({
            "model": model, "res_id": thread_id, "role": "primary",
            "reason": why or (self.env._("Continues its conversation") if updated
                              else self.env._("Created from the email")),
        })]
        for link in matches.links if matches else ():
            if (link.model, link.res_id) != (model, thread_id):
                links.append(Command.create({
                    "model": link.model, "res_id": link.res_id, "role": "related", "reason": link.reason,
                }))
        record = self.env[model].sudo().browse(thread_id)
        partner = record.partner_id if model != "res.partner" and "partner_id" in record._fields else None
        linked = {(link.model, link.res_id) for link in matches.links} if matches else set()
        if partner and ("res.partner", partner.id) not in linked:
            links.append(Command.create({
                "model": "res.partner", "res_id": partner.id, "role": "related",
                "reason": self.env._("Contact of %(record)s", record=record.display_name),
            }))
        reason = False
        if matches and matches.ambiguous:
            reason = self.env._("Several contacts share %(emails)s: filed on all of them",
                                emails=", ".join(matches.ambiguous))
        return {
            "state": "done",
            "reason": reason,
            "model": model,
            "res_id": thread_id,
            "mail_message_id": mail_message.id,
            "link_ids": [Command.clear()] * bool(log.link_ids) + links,
        }

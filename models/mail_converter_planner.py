"""Decide what an email becomes, without writing anything: the plan.

The pipeline (``mail.converter``) applies the plan this model builds, and the
simulator shows the same plan, so the two cannot disagree. A plan is built by
stages, run in the order of :meth:`_converter_plan_stages`; each stage is a
small method a consultant can override, or a new one can be inserted::

    def _converter_plan_stages(self):
        stages = super()._converter_plan_stages()
        stages.insert(stages.index("_plan_rules"), "_plan_vip_customers")
        return stages

Stages read the database (matching, reply headers, tags) but never write nor
send anything; what Odoo would send while deciding (its loop notice) is kept
in the plan for apply.
"""

from odoo import api, models, tools

from ..tools import mime
from ..tools import rules as rules_engine
from ..tools.plan import MailDeferred, Plan, Route
from ..tools.prefetch import prefetch_of

# One concern per model: special mail, privacy, trust... each with its stages and their apply
# code; the planner and the pipeline (mail.converter) both inherit them.
CONVERTER_CONCERNS = (
    "mail.converter.conversation",
    "mail.converter.trust",
    "mail.converter.contacts",
    "mail.converter.privacy",
    "mail.converter.bounce",
    "mail.converter.bcc",
    "mail.converter.pec",
    "mail.converter.helpdesk",
    "mail.converter.acknowledgement",
)


class MailConverterPlanner(models.AbstractModel):
    _name = "mail.converter.planner"
    _inherit = list(CONVERTER_CONCERNS)
    _description = "Mail converter: decides what each email becomes"

    @api.model
    def _converter_plan_stages(self):
        """Names of the stage methods, in order; override to insert, remove or reorder stages."""
        return [
            # what the pipeline decides before reading the email: shown by the simulator
            "_plan_size",
            "_plan_duplicate",
            # special mail, recognised first: certified mail (PEC), bounces; a banned sender
            # is refused before BCC logging would explain anything to them
            "_plan_pec",
            "_plan_bounce",
            "_plan_ban",  # helpdesk workflow
            "_plan_bcc",
            "_plan_exclusions",
            "_plan_rules",
            "_plan_reply",
            "_plan_tags",
            "_plan_rule_route",
            "_plan_default_route",
            "_plan_contacts",
            "_plan_only_linked",
            "_plan_fallback",
            "_plan_author",
            "_plan_assignee",
            "_plan_activity",
            "_plan_loop",
            "_plan_privacy",
            "_plan_reset_bounce",
            "_plan_followup",  # helpdesk workflow
            "_plan_reopen",  # helpdesk workflow
            "_plan_cc_followers",
            "_plan_auto_reply",  # helpdesk workflow: last, it needs the final outcome
        ]

    @api.model
    def _converter_plan(self, mail, source):
        """Build the :class:`Plan` for ``mail``; nothing is written."""
        plan = Plan()
        plan.links = list(mail.matches.links)
        for stage in self._converter_plan_stages():
            if mail.budget:
                mail.budget.check(stage)  # one email never holds the mailbox back
            before = (plan.state, plan.route and plan.route.key(), plan.private)
            explained = len(plan.explained)
            getattr(self, stage)(mail, source, plan)
            if (plan.state, plan.route and plan.route.key(), plan.private) != before:
                plan.stages.append((stage, self._converter_describe(plan)))
            plan.stages += [(stage, text) for text in plan.explained[explained:]]
            if plan.final:
                break
        if plan.state == "done" and not plan.route:
            plan.finish("discarded", self.env._("No destination record was found"))
        if mail.repairs:
            text = "; ".join(mail.repairs)
            plan.note(text[:1].upper() + text[1:])  # not capitalize(): it lowers "KiB", names...
        if mail.matches.ambiguous:
            plan.note(
                self.env._(
                    "Several contacts share %(emails)s: filed on all of them",
                    emails=", ".join(mail.matches.ambiguous),
                )
            )
        return plan

    @api.model
    def _converter_file_special(self, mail, source, plan):
        """End a special plan that files the email on an existing record; it is private when
        the privacy stage says so, like any email."""
        self._plan_privacy(mail, source, plan)
        plan.final = True

    @api.model
    def _converter_too_large(self, size, source):
        """Why an email of ``size`` bytes is too large to import (the mailbox's limit), or ``""``;
        override to allow some emails more."""
        limit = source.max_message_size
        if not limit or size <= limit:
            return ""
        return self.env._(
            "Too large: %(size)s MB > %(limit)s MB (the mailbox's limit); left on the mail server",
            size=round(size / 1048576, 1),
            limit=round(limit / 1048576, 1),
        )

    @api.model
    def _plan_size(self, mail, source, plan):
        """Emails larger than the mailbox's limit are not imported; the pipeline checks it
        before reading them, with the same :meth:`_converter_too_large`."""
        reason = self._converter_too_large(mail.size, source)
        if reason:
            plan.too_large = True
            plan.finish("rejected", reason)

    @api.model
    def _plan_duplicate(self, mail, source, plan):
        """Exactly once: a copy of an email the log already holds is logged as a duplicate.

        The pipeline decides it before reading the email (``_log_register``), from the
        same look-up (``mail.converter.log._converter_lookup``); the row it then
        converts is this very copy (``mail.log_id``).
        """
        if mail.log_id:
            return
        Log = self.env["mail.converter.log"]
        primary, verdict = Log._converter_lookup(mail.summary.key, source.company_id, mail.origin)
        if verdict == "copy":
            where = (
                primary.folder_id.display_name
                or primary.server_id.name
                or self.env._("a file import")
            )
            plan.finish("duplicate", self.env._("Already received through %(where)s", where=where))
        elif verdict != "new" and primary.state != "failed" and not primary.too_large:
            plan.finish(
                "duplicate",
                self.env._(
                    "Already logged (%(log)s): a fetch only finishes it on the mail server",
                    log=primary.display_name,
                ),
            )

    @api.model
    def _plan_activity(self, mail, source, plan):
        """Who gets the *activity* action's to-do: the rule's user, the contact's salesperson,
        the responsible found for the email, else the administrator."""
        if not plan.activity or not plan.route:
            return
        user_id, why = next(
            (user_id, why) for user_id, why in self._converter_activity_users(plan) if user_id
        )
        plan.activity["user_id"] = user_id
        user = self.env["res.users"].sudo().browse(user_id)
        plan.explain(self.env._("To-do for %(user)s (%(why)s)", user=user.name, why=why))

    @api.model
    def _converter_activity_users(self, plan):
        """``(user id, why)`` candidates for the activity's to-do, best first; the last never fails."""
        yield plan.activity.get("user_id"), self.env._("the rule's user")
        record = self.env[plan.route.model].sudo().browse(plan.route.res_id)
        if "user_id" in record._fields and record._fields["user_id"].comodel_name == "res.users":
            yield record.user_id.id, self.env._("the contact's salesperson")
        yield plan.assignee_id, self.env._("the responsible")
        yield self.env.ref("base.user_admin").id, self.env._("nobody else: the administrator")

    @api.model
    def _plan_exclusions(self, mail, source, plan):
        """Mail that must not be imported at all: staff on the never-import list, excluded
        records, mail already in Odoo, replies to our own bounce notices."""
        reason = self._converter_exclusion_reason(mail, source)
        if reason:
            plan.finish("discarded", reason)

    @api.model
    def _converter_exclusion_reason(self, mail, source):
        """Why this email must not be imported, or ``None`` to import it."""
        matches, msg_dict = mail.matches, mail.msg_dict
        staff = {a.email for a in matches.addresses} & source.excluded_addresses
        if staff:
            return self.env._(
                "%(email)s is on the mailbox's never-import list", email=sorted(staff)[0]
            )
        if matches.excluded:
            excluded = matches.excluded[0]
            record = self.env[excluded.model].sudo().browse(excluded.res_id)
            return self.env._(
                "%(record)s (%(email)s) is excluded from email import",
                record=record.display_name,
                email=excluded.email,
            )
        msg_id = msg_dict.get("message_id")
        if msg_id and self._converter_already_in_odoo(msg_id, source):
            return self.env._("Already in Odoo (sent or imported by this database)")
        if self.env["mail.thread"]._detect_loop_headers(msg_dict):
            return self.env._("Reply to a bounce notification (mail loop)")
        return None

    @api.model
    def _converter_prefetch_in_odoo(self, message_ids, prefetch):
        """Find the messages of all ``message_ids`` in one query, for
        :meth:`_converter_already_in_odoo` to find in ``prefetch`` (the same 20 at most)."""
        message_ids = list(dict.fromkeys(filter(None, message_ids)))
        if not message_ids:
            return
        found = {}
        for message in (
            self.env["mail.message"]
            .sudo()
            .search_fetch([("message_id", "in", message_ids)], ["message_id"])
        ):
            ids = found.setdefault(message.message_id, [])
            if len(ids) < 20:
                ids.append(message.id)
        prefetch.fill("in_odoo", message_ids, found)

    @api.model
    def _converter_already_in_odoo(self, message_id, source):
        """Whether Odoo holds the email ``message_id`` already: sent from this database, or
        imported for the mailbox's company (another company's import of it does not count)."""
        prefetch = prefetch_of(self.env.context)
        if prefetch is not None and prefetch.knows("in_odoo", [message_id]):
            messages = self.env["mail.message"].sudo().browse(prefetch.get("in_odoo", message_id))
        else:
            messages = (
                self.env["mail.message"].sudo().search([("message_id", "=", message_id)], limit=20)
            )
        if not messages or not source.company_id:
            return bool(messages)
        others = (
            self.env["mail.converter.log"]
            .sudo()
            .search(
                [
                    ("mail_message_id", "in", messages.ids),
                    ("company_id", "not in", [source.company_id, False]),
                ]
            )
        )
        return bool(messages - others.mail_message_id)

    @api.model
    def _plan_rules(self, mail, source, plan):
        """Evaluate the rules: the deciding rule, every verdict, privacy; a *discard* rule ends the plan.

        The first matching rule that does more than filing decides; rules that only file
        (action *link*, usually without *stop*) can still mark the email private.
        """
        if not source.rules:
            return
        matched, verdicts = rules_engine.evaluate(
            source.rules,
            self._converter_rule_email(mail),
            source.server_id,
            mail.origin.direction,
            explain=True,
        )
        plan.verdicts = [self._converter_verdict_line(v) for v in verdicts]
        if not matched:
            return
        plan.rule = next((r for r in matched if r.action != "link"), matched[0])
        for rule in matched:
            if rule.private:
                plan.private = True
                plan.private_reasons.append(self.env._("Rule %(rule)s", rule=rule.name))
        if plan.rule.action == "discard":
            plan.finish("discarded", self.env._("Rule %(rule)s", rule=plan.rule.name))

    @api.model
    def _converter_rule_email(self, mail):
        """The email as rule conditions see it."""
        headers = {}
        for name, values in mail.summary.address_headers.items():
            headers[name] = [mime.decode_address_value(v) for v in values]
        for name, value in mail.summary.headers.items():
            headers.setdefault(name, [value])
        by_role = {}
        for address in mail.matches.addresses:
            by_role.setdefault(address.role, []).append(address.email)
        body = mail.msg_dict.get("body")
        return rules_engine.Email(
            headers=headers, addresses=by_role, body=tools.html2plaintext(body) if body else ""
        )

    @api.model
    def _converter_verdict_line(self, verdict):
        if verdict.status == "skipped":
            return f"- {verdict.rule.name}: skipped ({verdict.reason})"
        answers = {True: "yes", False: "no", None: "not needed"}
        checks = ", ".join(f"{c.describe()} {answers[ok]}" for c, ok in verdict.conditions)
        head = "MATCHED" if verdict.status == "matched" else "no match"
        return f"- {verdict.rule.name}: {head}" + (f" [{checks}]" if checks else " [no conditions]")

    @api.model
    def _plan_rule_route(self, mail, source, plan):
        """What the deciding rule creates; a reply to an existing conversation always stays in it."""
        rule = plan.rule
        if plan.route or rule is None or rule.action == "link":
            return
        why = self.env._("Rule %(rule)s", rule=rule.name)
        if rule.action == "ticket_update":
            ticket = self._converter_ticket_by_tag(rule.tag_regex, mail.msg_dict, source)
            if ticket and not self._converter_sender_belongs(ticket, mail, source):
                plan.note(self._converter_untrusted_note(ticket, mail, why))
                ticket = ticket.browse()
            if ticket:
                plan.route = Route("helpdesk.ticket", ticket.id, why=why)
                plan.followup = True
                return
        if rule.action in ("ticket", "ticket_update"):
            plan.route = Route("helpdesk.ticket", values=dict(rule.ticket_values), why=why)
        elif rule.action == "activity" and mail.matches.author():
            plan.route = Route("res.partner", mail.matches.author(), why=why)
            plan.activity = {
                "user_id": rule.user_id,
                "summary": mail.msg_dict.get("subject") or self.env._("Email to follow up"),
            }
        else:
            plan.route = Route("crm.lead", values=dict(rule.lead_values), why=why)

    @api.model
    def _plan_default_route(self, mail, source, plan):
        """Received mail that no rule, reply header or tag decided opens a record of the
        mailbox's model (*Create a New Record*); rules that only file or mark private do
        not decide. Without a model, mail is only filed on the records it concerns. Sent
        mail never opens a record by itself. An *Only file* rule that stops further rules
        decides to only file.
        """
        if plan.route or mail.origin.direction == "outbound":
            return
        if plan.rule is not None and plan.rule.action == "link" and plan.rule.stop:
            plan.explain(self.env._("Rule %(rule)s only files the email", rule=plan.rule.name))
            return
        if not source.model:
            plan.explain(self.env._("The mailbox creates no record: the email is only filed"))
            return
        plan.route = Route(source.model, why=self.env._("The mailbox creates a new record"))
        if source.rules:
            plan.explain(self.env._("No rule decided: the mailbox's Create a New Record applies"))

    @api.model
    def _plan_only_linked(self, mail, source, plan):
        """With *Only import linked emails*, mail that concerns no contact, company or lead
        (users do not count) and continues no conversation is discarded."""
        if not source.only_linked or (plan.route and plan.route.res_id) or plan.contacts:
            return
        if not self._converter_linked_beyond_users(plan):
            plan.finish("discarded", self.env._("Not linked to any contact, company or lead"))

    @api.model
    def _converter_linked_beyond_users(self, plan):
        """Whether the email concerns a record other than internal users (or their own contacts)."""
        staff = {link.email for link in plan.links if link.model == "res.users"}
        return any(link.model != "res.users" and link.email not in staff for link in plan.links)

    @api.model
    def _plan_fallback(self, mail, source, plan):
        """Mail that starts nothing is kept on the first record it concerns (for sent mail,
        its first recipient), and shown on the others."""
        if plan.route:
            return
        outbound = mail.origin.direction == "outbound"
        roles = ("to", "cc") if outbound else ("from", "to", "cc", "delivered-to", "bcc")
        staff = {link.email for link in plan.links if link.model == "res.users"}
        for link in plan.links:
            if (
                link.model in ("res.partner", "crm.lead")
                and link.role in roles
                and link.email not in staff
            ):
                if link.res_id:
                    plan.route = Route(link.model, link.res_id, why=link.reason)
                else:
                    plan.route = Route("res.partner", new_contact=link.email, why=link.reason)
                return

    @api.model
    def _plan_author(self, mail, source, plan):
        """The contact who wrote the email: Odoo's guess, or the one the display name singled out."""
        plan.author_id = mail.msg_dict.get("author_id") or mail.matches.author() or 0
        if not plan.author_id:
            sender = next((c.address.email for c in plan.contacts if c.address.role == "from"), "")
            plan.author_new_contact = sender

    @api.model
    def _plan_assignee(self, mail, source, plan):
        """The responsible of a new record, the first usable of: the rule's user; the sender of
        sent mail or the first user among the To addresses; the team's assignment; the
        mailbox's default responsible. Else nobody: never OdooBot, the scheduler's user."""
        if not plan.route or not plan.route.creates:
            return
        plan.assignee_id = next(
            (
                user_id
                for user_id in self._converter_assignee_candidates(mail, source, plan)
                if user_id and self._converter_can_assign(user_id)
            ),
            0,
        )

    @api.model
    def _converter_assignee_candidates(self, mail, source, plan):
        """User ids to assign a new record to, best first (a generator: later ones cost nothing)."""
        yield plan.route.values.get("user_id")
        wanted = ("from",) if mail.origin.direction == "outbound" else ("to",)
        for link in plan.links:
            if link.model == "res.users" and link.role in wanted:
                yield link.res_id
        yield self._converter_team_assignee(plan.route)
        yield source.default_user_id

    @api.model
    def _converter_team_assignee(self, route):
        """Who a new ticket's team assigns it to: the team leader; override for round-robin or
        workload-based assignment."""
        if route.model != "helpdesk.ticket" or not route.values.get("team_id"):
            return 0
        return self.env["helpdesk.ticket.team"].sudo().browse(route.values["team_id"]).user_id.id

    @api.model
    def _converter_can_assign(self, user_id):
        """Whether records may be assigned to ``user_id``: an active internal user, not a robot."""
        user = self.env["res.users"].sudo().browse(user_id).exists()
        return bool(
            user
            and user.active
            and not user.share
            and user != self.env.ref("base.user_root", raise_if_not_found=False)
        )

    @api.model
    def _plan_loop(self, mail, source, plan):
        """Odoo's own loop guard: too many emails from one sender in a short time.

        Odoo mails the sender a notice at once when it detects a loop; planning sends
        nothing, so the notice is kept in the plan (``loop_notice``) and apply sends it.
        """
        if not plan.route:
            return
        route = self._converter_odoo_routes(plan)
        MailThread = self.env["mail.converter.reader"]._converter_mail_thread(source)
        notice = None
        try:
            looped = MailThread.with_context(mail_converter_planning=True)._detect_loop_sender(
                mail.message, mail.msg_dict, route
            )
        except MailDeferred as deferred:
            looped, notice = True, deferred.values
        if looped:
            plan.finish(
                "discarded", self.env._("Mail loop detected (too many emails from this sender)")
            )
            plan.loop_notice = notice
            if notice:
                plan.explain(
                    self.env._(
                        "Odoo's loop notice is mailed to %(email)s", email=notice["email_to"]
                    )
                )

    @api.model
    def _converter_odoo_routes(self, plan, new_contacts=None):
        """The plan's route as ``mail.thread`` routes ``(model, thread_id, values, uid, alias)``."""
        route = plan.route
        if not route:
            return []
        res_id = route.res_id
        if route.new_contact:
            res_id = (new_contacts or {}).get(route.new_contact, self.env["res.partner"]).id or 0
        values = dict(route.values)
        if route.creates and "user_id" in self.env[route.model]._fields:
            # Always explicit: left out, helpdesk_mgmt and crm assign the gateway's user (OdooBot).
            values["user_id"] = plan.assignee_id or False
        return [(route.model, res_id or False, values, self.env.uid, False)]

    @api.model
    def _converter_describe(self, plan):
        """One line a person reads: what the plan does with the email."""
        special = self._converter_describe_special(plan)
        if special:
            return special
        if plan.state != "done":
            return f"{dict(self.env['mail.converter.log']._fields['state'].selection)[plan.state]}: {plan.reason}"
        route = plan.route
        if not route:
            return self.env._("Nothing to do yet")
        model_name = self.env["ir.model"]._get(route.model).name
        by = self.env._(" (rule %(rule)s)", rule=plan.rule.name) if plan.rule else ""
        if route.new_contact:
            text = self.env._("File on the new contact %(email)s", email=route.new_contact)
        elif route.res_id:
            record = self.env[route.model].sudo().browse(route.res_id)
            text = self.env._(
                "File on %(type)s %(record)s%(by)s",
                type=model_name,
                record=record.display_name,
                by=by,
            )
        else:
            text = self.env._("Create a new %(type)s%(by)s", type=model_name, by=by)
        if plan.private and plan.private_reasons:
            text += self.env._(", marked private (%(why)s)", why="; ".join(plan.private_reasons))
        elif plan.private:
            text += self.env._(", marked private")
        return text

    @api.model
    def _converter_describe_special(self, plan):
        """The line for special mail (bounces, BCC logs, certified mail), or ``None`` for
        ordinary mail; override to describe a kind of your own, then call ``super()``."""
        return (
            self._converter_describe_bounce(plan)
            or self._converter_describe_bcc(plan)
            or self._converter_describe_pec(plan)
        )

"""Decide what an email becomes, without writing anything: the plan.

The pipeline (``mail.converter``) applies the plan this model builds, and the
simulator shows the same plan, so the two cannot disagree. A plan is built by
stages, run in the order of :meth:`_converter_plan_stages`; each stage is a
small method a consultant can override, or a new one can be inserted::

    def _converter_plan_stages(self):
        stages = super()._converter_plan_stages()
        stages.insert(stages.index("_plan_rules"), "_plan_vip_customers")
        return stages

Stages read the database (matching, reply headers, tags) but never write.
"""

import dataclasses
import email
import email.policy
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.tools import SQL
from odoo.tools.mail import unfold_references

from ..tools import addresses, autoreply, bans, bcc, bounce, matcher, mime, pec, privacy, safe_regex
from ..tools import rules as rules_engine
from ..tools.plan import (
    BccPlan,
    BounceHolder,
    BouncePlan,
    Decision,
    Mail,
    NewContact,
    PecPlan,
    Plan,
    Route,
)


class MailConverterPlanner(models.AbstractModel):
    _name = "mail.converter.planner"
    _description = "Mail converter: decides what each email becomes"

    # -- reading ----------------------------------------------------------
    @api.model
    def _converter_read(self, raw, source, origin, summary=None):
        """Parse ``raw`` (bytes) and match its addresses: the :class:`Mail` every stage reads.

        On a certified mailbox (PEC) it is the message inside the envelope; the
        envelope and its ``daticert.xml`` become attachments of that message.
        """
        envelope = self._converter_unwrap(raw, source)
        if envelope is not None and envelope.inner:
            raw = envelope.inner
        summary = summary or mime.summarize(raw)
        # Security: headers are cut to their limits before Odoo's parser decodes them.
        raw, limits = mime.cap_headers(raw)
        # ... and address headers the standard library's parser would choke on are rewritten.
        raw, rewritten = addresses.safe_headers(raw)
        message = self._converter_parse_message(raw)
        repairs = limits + rewritten + mime.repair_charsets(message)
        msg_dict = self._converter_mail_thread(source).message_parse(
            message, save_original=source.save_original
        )
        if source.strip_attachments:
            msg_dict.pop("attachments", None)
        if envelope is not None and envelope.inner:
            # The legal envelope is kept even when the mailbox drops attachments.
            self._converter_keep_envelope(msg_dict, envelope)
        return Mail(
            raw=raw,
            summary=summary,
            message=message,
            msg_dict=msg_dict,
            matches=self._converter_match(summary, source),
            origin=origin,
            repairs=repairs,
            pec=envelope,
            sender_auth=self.env["mail.converter.sender.auth"]._converter_sender_auth(
                message, source, raw
            ),
        )

    @api.model
    def _converter_unwrap(self, raw, source):
        """The PEC envelope of ``raw`` (:class:`tools.pec.Pec`) on a certified mailbox, else ``None``."""
        if not source.is_pec:
            return None
        return pec.unwrap(raw)

    @api.model
    def _converter_keep_envelope(self, msg_dict, envelope):
        """Attach the PEC envelope and ``daticert.xml`` to the certified message."""
        Attachment = self.env["mail.thread"]._Attachment
        attachments = list(msg_dict.get("attachments") or [])
        attachments.append(Attachment("pec-envelope.eml", envelope.envelope, {}))
        if envelope.daticert:
            attachments.append(Attachment(pec.DATICERT_NAME, envelope.daticert, {}))
        msg_dict["attachments"] = attachments

    @api.model
    def _converter_parse_message(self, raw):
        """Build an :class:`email.message.EmailMessage` as Odoo's gateway does."""
        return email.message_from_bytes(raw, policy=email.policy.SMTP)

    @api.model
    def _converter_mail_thread(self, source):
        """The ``mail.thread`` environment used for parsing and posting, in the mailbox's company
        (new records get its company, team and sequence)."""
        MailThread = self.env["mail.thread"]
        if source.company_id:
            MailThread = MailThread.with_company(source.company_id)
        return MailThread.with_context(
            default_fetchmail_server_id=source.server_id,
            # helpdesk workflow: the ticket remembers its mailbox (replies, spam, the marker)
            default_mail_converter_server_id=source.server_id,
            mail_converter_importing=True,
        )

    @api.model
    def _converter_match(self, summary, source):
        """Find every record the email's addresses belong to (one query)."""
        found = addresses.collect(summary.address_headers)
        candidates, companies = self._converter_match_candidates([a.email for a in found], source)
        result = matcher.match(found, candidates, companies)
        result.addresses = found
        return result

    @api.model
    def _converter_match_candidates(self, emails, source):
        """Contacts, leads and internal users holding ``emails``, with each contact's company.

        One indexed query whatever the number of addresses; records are read
        as the system does, the links are what users then see through access rules.
        Only records of the mailbox's company (or of none) and users allowed in it match.
        """
        if not emails:
            return [], {}
        self.env["res.partner"].flush_model(
            [
                "email_normalized",
                "active",
                "name",
                "mail_converter_exclude",
                "commercial_partner_id",
                "company_id",
            ]
        )
        self.env["crm.lead"].flush_model(
            ["email_normalized", "active", "mail_converter_exclude", "company_id"]
        )
        self.env["res.users"].flush_model(["active", "share", "partner_id"])
        self.env.cr.execute(
            SQL(
                """
            SELECT 'res.partner', p.id, p.email_normalized, p.name, p.mail_converter_exclude,
                   c.id, c.name, c.mail_converter_exclude
              FROM res_partner p
         LEFT JOIN res_partner c ON c.id = p.commercial_partner_id AND c.id != p.id AND c.active
             WHERE p.active AND p.email_normalized = ANY(%(emails)s)
               AND (%(company)s::int IS NULL OR p.company_id IS NULL OR p.company_id = %(company)s)
         UNION ALL
            SELECT 'crm.lead', l.id, l.email_normalized,
                   COALESCE(NULLIF(l.contact_name, ''), NULLIF(l.partner_name, ''), l.name),
                   l.mail_converter_exclude, NULL, NULL, NULL
              FROM crm_lead l
             WHERE l.active AND l.email_normalized = ANY(%(emails)s)
               AND (%(company)s::int IS NULL OR l.company_id IS NULL OR l.company_id = %(company)s)
         UNION ALL
            SELECT 'res.users', u.id, p.email_normalized, p.name, FALSE, NULL, NULL, NULL
              FROM res_users u JOIN res_partner p ON p.id = u.partner_id
             WHERE u.active AND u.share IS NOT TRUE AND p.email_normalized = ANY(%(emails)s)
               AND (%(company)s::int IS NULL OR EXISTS (
                    SELECT 1 FROM res_company_users_rel r WHERE r.user_id = u.id AND r.cid = %(company)s))
          ORDER BY 1, 2
        """,
                emails=list(emails),
                company=source.company_id or None,
            )
        )
        candidates, companies = [], {}
        for (
            model,
            res_id,
            address,
            name,
            exclude,
            company_id,
            company_name,
            company_exclude,
        ) in self.env.cr.fetchall():
            candidates.append(matcher.Candidate(model, res_id, address, name or "", bool(exclude)))
            if company_id:
                companies[res_id] = (company_id, company_name, bool(company_exclude))
        return candidates, companies

    # -- the plan -----------------------------------------------------------
    @api.model
    def _converter_plan_stages(self):
        """Names of the stage methods, in order; override to insert, remove or reorder stages."""
        return [
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
            "_plan_loop",
            "_plan_privacy",
            "_plan_reopen",  # helpdesk workflow
            "_plan_auto_reply",  # helpdesk workflow: last, it needs the final outcome
        ]

    @api.model
    def _converter_plan(self, mail, source):
        """Build the :class:`Plan` for ``mail``; nothing is written."""
        plan = Plan()
        plan.links = list(mail.matches.links)
        for stage in self._converter_plan_stages():
            if mail.budget:
                mail.budget.check(stage)  # C11: one email never holds the mailbox back
            before = (plan.state, plan.route and plan.route.key(), plan.private)
            getattr(self, stage)(mail, source, plan)
            if (plan.state, plan.route and plan.route.key(), plan.private) != before:
                plan.stages.append((stage, self._converter_describe(plan)))
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

    # -- special mail: certified mail (PEC), bounces, BCC logging ------------------------
    @api.model
    def _plan_pec(self, mail, source, plan):
        """Certified mail: a PEC is converted from its real sender (the envelope is already
        opened); a receipt opens nothing; a broken envelope is converted as received, noted."""
        envelope = mail.pec
        if envelope is None or not envelope.certified:
            return
        plan.pec = PecPlan(
            envelope.kind, envelope.sender, envelope.receipt_type, envelope.reference or ""
        )
        if envelope.kind == "receipt":
            self._converter_plan_pec_receipt(mail, source, plan)
        elif envelope.kind == "broken":
            plan.note(self.env._("%(error)s: converted as received", error=envelope.error))
        else:
            plan.kind = "pec"
            if envelope.kind == "anomaly":
                plan.note(self.env._("PEC anomaly envelope: the message was not certified"))

    @api.model
    def _converter_plan_pec_receipt(self, mail, source, plan):
        """A receipt is filed on the conversation of the message it is about, or only logged."""
        plan.kind = "pec_receipt"
        label = self._converter_pec_receipt_label(plan.pec.receipt_type)
        record = self._converter_record_of_messages([plan.pec.reference])
        if not record:
            plan.finish(
                "discarded",
                self.env._(
                    "PEC receipt (%(type)s): no conversation holds %(reference)s",
                    type=label,
                    reference=plan.pec.reference or self.env._("(no reference)"),
                ),
            )
            return
        plan.route = Route(
            record._name, record.id, why=self.env._("PEC receipt (%(type)s)", type=label)
        )
        self._converter_settle(mail, source, plan)

    @api.model
    def _converter_pec_receipt_label(self, receipt_type):
        """What a receipt type (``X-Ricevuta``) means, for people."""
        labels = {
            "accettazione": self.env._("accepted by the sender's provider"),
            "non-accettazione": self.env._("refused by the sender's provider"),
            "presa-in-carico": self.env._("taken in charge by the recipient's provider"),
            "avvenuta-consegna": self.env._("delivered"),
            "errore-consegna": self.env._("not delivered"),
            "preavviso-errore-consegna": self.env._("not delivered within 12 hours"),
            "rilevazione-virus": self.env._("virus detected"),
        }
        meaning = labels.get(receipt_type)
        return f"{receipt_type}, {meaning}" if meaning else receipt_type or "?"

    @api.model
    def _converter_record_of_messages(self, message_ids):
        """The record holding the newest of ``message_ids``, or ``None``."""
        message_ids = [m for m in message_ids if m]
        if not message_ids:
            return None
        found = (
            self.env["mail.message"]
            .sudo()
            .search(
                [("message_id", "in", message_ids), ("model", "!=", False), ("res_id", "!=", 0)],
                limit=1,
                order="id desc",
            )
        )
        if not found or found.model not in self.env:
            return None
        record = self.env[found.model].sudo().browse(found.res_id).exists()
        return record if record and hasattr(record, "message_post") else None

    @api.model
    def _plan_bounce(self, mail, source, plan):
        """Delivery failure reports never open a record nor get a reply: who bounced, hard or
        soft, and (mailbox option) the contacts and leads a hard-bounced address leaves."""
        report = self._converter_bounce_report(mail)
        if report is None:
            return
        ours = source.own_addresses | source.mailbox_addresses
        recipients = [r for r in report.recipients if r.email not in ours]
        hard = [r.email for r in recipients if r.hard]
        remove = source.remove_bounced_address
        original = self.env["mail.message"].sudo()
        if report.original_message_ids:
            original = original.search(
                [("message_id", "in", report.original_message_ids)], limit=1, order="id desc"
            )
        plan.kind = "bounce"
        plan.bounce = BouncePlan(
            recipients=recipients,
            hard=hard,
            remove=remove,
            holders=self._converter_bounce_holders(hard) if remove else [],
            original_message_ids=report.original_message_ids,
            original_id=(original or mail.msg_dict.get("bounced_message") or original)[:1].id,
        )
        plan.finish("bounce", self._converter_bounce_reason(plan.bounce))

    @api.model
    def _converter_bounce_report(self, mail):
        """The :class:`tools.bounce.BounceReport` of ``mail``, or ``None`` when it is no bounce."""
        if bounce.looks_automated(mail.message):
            report = bounce.detect(mail.raw)
            if report is not None:
                return report
        if mail.msg_dict.get("is_bounce"):
            # Odoo recognises it (bounce alias, mailer-daemon) but it names no failed address.
            return bounce.BounceReport()
        return None

    @api.model
    def _converter_bounce_holders(self, emails):
        """Contacts and leads holding each address, alone or in a list; staff are left alone."""
        holders = []
        for address in emails:
            partners = self.env["res.partner"].sudo().search([("email", "ilike", address)])
            for partner in partners:
                if bounce.holds_address(partner.email, address) and all(
                    user.share for user in partner.user_ids
                ):
                    holders.append(
                        BounceHolder(
                            "res.partner", partner.id, "email", address, partner.display_name
                        )
                    )
            leads = self.env["crm.lead"].sudo().search([("email_from", "ilike", address)])
            for lead in leads:
                if bounce.holds_address(lead.email_from, address):
                    holders.append(
                        BounceHolder("crm.lead", lead.id, "email_from", address, lead.display_name)
                    )
        return holders

    @api.model
    def _converter_bounce_outcome(self, bounce_plan):
        """What happens because of the bounce, in words."""
        if not bounce_plan.recipients:
            return self.env._("a delivery report naming no failed address; only logged")
        if not bounce_plan.hard:
            return self.env._("temporary; only logged")
        if not bounce_plan.remove:
            return self.env._("only logged (the mailbox keeps bounced addresses)")
        if not bounce_plan.holders:
            return self.env._("blocklisted; no contact or lead holds it")
        models = {"res.partner": self.env._("contact"), "crm.lead": self.env._("lead")}
        return self.env._(
            "removed from %(records)s and blocklisted",
            records=", ".join(
                f"{holder.name} ({models.get(holder.model, holder.model)})"
                for holder in bounce_plan.holders
            ),
        )

    @api.model
    def _converter_bounce_reason(self, bounce_plan):
        """The log's reason: class, addresses, the remote server's answer and the outcome."""
        recipients = bounce_plan.recipients
        if not recipients:
            return self.env._(
                "Delivery report: %(outcome)s", outcome=self._converter_bounce_outcome(bounce_plan)
            )
        why = "; ".join(
            dict.fromkeys(r.diagnostic or r.status for r in recipients if r.diagnostic or r.status)
        )
        text = self.env._(
            "%(kind)s bounce for %(emails)s: %(outcome)s",
            kind=self.env._("Hard") if bounce_plan.bounce_class == "hard" else self.env._("Soft"),
            emails=", ".join(r.email for r in recipients),
            outcome=self._converter_bounce_outcome(bounce_plan),
        )
        return f"{text} ({why})" if why else text

    @api.model
    def _plan_bcc(self, mail, source, plan):
        """BCC logging: the email goes on the one contact or lead its To recipients designate, as
        its representative's sent mail, and nothing is created; else it is rejected, and the
        sender is told why."""
        if not source.bcc_logging:
            return
        plan.kind = "bcc"
        sender = next((a for a in mail.matches.addresses if a.role == "from"), None)
        plan.bcc = BccPlan(
            sender=sender.email if sender else "", category_id=source.bcc_category_id
        )
        reps = bcc.find_representatives(
            plan.bcc.sender,
            sender.name if sender else "",
            source.bcc_representatives,
            source.bcc_accepted_senders,
        )
        if len(reps) != 1:
            reason = (
                self.env._(
                    "%(email)s is accepted for %(count)s representatives: %(names)s",
                    email=plan.bcc.sender,
                    count=len(reps),
                    names=", ".join(r.name for r in reps),
                )
                if reps
                else self.env._(
                    "%(email)s is not a representative",
                    email=plan.bcc.sender or self.env._("The sender"),
                )
            )
            self._converter_bcc_refuse(mail, source, plan, reason)
            return
        rep = reps[0]
        plan.bcc.representative_id, plan.bcc.representative_name = rep.user_id, rep.name
        staff = {link.email for link in mail.matches.links if link.model == "res.users"}
        staff |= source.own_addresses | source.mailbox_addresses | rep.emails
        choice, contacts, leads = bcc.pick_record(
            [link for link in mail.matches.links if link.role == "to"], staff
        )
        if choice is None:
            self._converter_bcc_refuse(
                mail,
                source,
                plan,
                self._converter_bcc_no_record_reason(mail, staff, contacts, leads),
            )
            return
        exclusion = self._converter_exclusion_reason(mail, source)
        if exclusion:
            plan.finish("discarded", exclusion)
            return
        record = self.env[choice.model].sudo().browse(choice.res_id)
        plan.bcc.record_name = record.display_name
        plan.route = Route(
            choice.model, choice.res_id, why=self.env._("BCC log by %(rep)s", rep=rep.name)
        )
        plan.author_id = rep.partner_id
        # Logged as it is: no rule, reply header or new record applies.
        self._converter_settle(mail, source, plan)

    @api.model
    def _converter_settle(self, mail, source, plan):
        """End a special plan that files the email on an existing record; it is private when
        the privacy stage says so, like any email."""
        self._plan_privacy(mail, source, plan)
        plan.final = True

    @api.model
    def _converter_bcc_no_record_reason(self, mail, staff, contacts, leads):
        """Why the To recipients designate no single contact or lead."""
        if contacts or leads:
            found = contacts or leads
            emails = list(dict.fromkeys(link.email for link in found))
            names = ", ".join(
                self.env[link.model].sudo().browse(link.res_id).display_name for link in found
            )
            values = {"emails": ", ".join(emails), "count": len(found), "names": names}
            if contacts:
                return self.env._("%(emails)s matches %(count)s contacts: %(names)s", **values)
            return self.env._("%(emails)s matches %(count)s leads: %(names)s", **values)
        recipients = [
            a.email for a in mail.matches.addresses if a.role == "to" and a.email not in staff
        ]
        if not recipients:
            return self.env._("No customer among the To recipients")
        return self.env._("No contact or lead for %(emails)s", emails=", ".join(recipients))

    @api.model
    def _converter_bcc_refuse(self, mail, source, plan, reason):
        """Reject the BCC email with ``reason``, deciding whether the sender is told."""
        plan.bcc.explanation = self._converter_bcc_explanation(mail, source, plan, reason)
        decision = plan.bcc.explanation
        plan.note(
            self.env._("Explanation mailed to %(email)s", email=plan.bcc.sender)
            if decision.yes
            else self.env._("No explanation mail: %(why)s", why=decision.reason)
        )
        plan.finish("rejected", reason)

    @api.model
    def _converter_bcc_explanation(self, mail, source, plan, reason):
        """Whether the sender gets an explanation: never automatic mail, once an hour per reason."""
        sender = plan.bcc.sender
        if not sender:
            return Decision(False, self.env._("no sender address"))
        if sender in source.own_addresses | source.mailbox_addresses:
            return Decision(False, self.env._("sent by a converter mailbox"))
        if bcc.is_auto_submitted(mail.summary.headers) or bounce.looks_automated(mail.message):
            return Decision(False, self.env._("automatic mail"))
        since = fields.Datetime.subtract(fields.Datetime.now(), hours=1)
        if (
            self.env["mail.converter.log"]
            .sudo()
            .search_count(
                [
                    ("kind", "=", "bcc"),
                    ("state", "=", "rejected"),
                    ("bcc_explained_to", "=", sender),
                    ("reason", "=", reason),
                    ("create_date", ">=", since),
                ],
                limit=1,
            )
        ):
            return Decision(False, self.env._("already explained within the hour"))
        return Decision(True, self.env._("mailed to the sender"), {"to": sender})

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
    def _converter_already_in_odoo(self, message_id, source):
        """Whether Odoo holds the email ``message_id`` already: sent from this database, or
        imported for the mailbox's company (another company's import of it does not count)."""
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
    def _plan_reply(self, mail, source, plan):
        """A reply to a message Odoo knows (In-Reply-To, References) continues its conversation,
        when its sender belongs to that conversation; else it is handled as a new email."""
        replied = self._converter_replied_message(mail, source)
        record = self._converter_replied_record(mail, source, replied)
        if not record:
            return
        if not (
            self._converter_sender_was_recipient(replied, mail)
            or self._converter_sender_belongs(record, mail, source)
        ):
            plan.note(self._converter_untrusted_note(record, mail, self.env._("Reply header")))
            return
        plan.route = Route(record._name, record.id, why=self.env._("Continues its conversation"))
        plan.followup = True

    @api.model
    def _converter_replied_message(self, mail, source):
        """The newest message Odoo holds among those ``mail`` replies to, on a record of the
        mailbox's company; an empty recordset when there is none."""
        msg_dict = mail.msg_dict
        references = unfold_references(
            msg_dict.get("references") or msg_dict.get("in_reply_to") or ""
        )
        # Newer ids are appended (RFC 5322 3.6.4); Odoo looks at the last 32 too.
        references = [ref.strip() for ref in references if "reply_to" not in ref][-32:]
        Message = self.env["mail.message"].sudo()
        if not references:
            return Message
        # The same email may sit in two companies' records: the first of the mailbox's company.
        for replied in Message.search(
            [("message_id", "in", references), ("model", "!=", False), ("res_id", "!=", False)],
            limit=10,
            order="id desc",
        ):
            record = self._converter_replied_record(mail, source, replied)
            if record:
                return replied
        return Message

    @api.model
    def _converter_replied_record(self, mail, source, replied):
        """The record holding ``replied`` (a message), when it takes replies and belongs to the
        mailbox's company, else ``None``."""
        if not replied or replied.model not in self.env:
            return None
        record = self.env[replied.model].sudo().browse(replied.res_id).exists()
        if not record or not hasattr(record, "message_update"):
            return None
        return record if self._converter_in_company(record, source) else None

    # -- security (issue 9 part B): ID tags and replies trusted from the record's people --
    @api.model
    def _converter_in_company(self, record, source):
        """Whether ``record`` may receive mail of the mailbox's company (shared records may)."""
        if not source.company_id or "company_id" not in record._fields:
            return True
        company = record.sudo().company_id
        return not company or company.id == source.company_id

    @api.model
    def _converter_sender_belongs(self, record, mail, source):
        """Whether the sender of ``mail`` may file it on ``record`` by an ID tag or a reply:
        the record's customer or contact (or another contact of the customer's company), a
        follower, its responsible, staff who may read it or who send from an outbound
        folder, or (mailbox option) an address of the customer's company domain. Override
        to trust more or fewer people."""
        sender = self._converter_sender(mail)
        if not sender:
            return False
        record = record.sudo()
        if sender in self._converter_record_emails(record):
            return True
        for link in mail.matches.links:
            if link.model == "res.users" and link.email == sender:
                if mail.origin.direction == "outbound":
                    return True  # our staff's sent mail, found in a Sent folder
                user = self.env["res.users"].sudo().browse(link.res_id)
                if record.with_user(user).has_access("read"):
                    return True
        if self._converter_customer_colleague(record, sender):
            return True
        if source.trust_company_domain:
            domain = addresses.email_domain(sender)
            return bool(domain) and domain in self._converter_record_domains(record)
        return False

    @api.model
    def _converter_customer_colleague(self, record, sender):
        """Whether ``sender`` is a contact of the company of ``record``'s customer."""
        customer = self.env["res.partner"].sudo()
        if record._name == "res.partner":
            customer = record
        elif "partner_id" in record._fields and record._fields["partner_id"].comodel_name == (
            "res.partner"
        ):
            customer = record.partner_id
        company = customer.commercial_partner_id
        return bool(
            company
            and self.env["res.partner"]
            .sudo()
            .search_count(
                # A contact the converter made from one email is nobody's colleague (C11).
                [
                    ("email_normalized", "=", sender),
                    ("commercial_partner_id", "=", company.id),
                    ("mail_converter_created", "=", False),
                ],
                limit=1,
            )
        )

    @api.model
    def _converter_record_people(self, record):
        """The contacts who belong to ``record``: its customer (and the customer's company),
        its followers and the partners of its responsible users."""
        partners = self.env["res.partner"].sudo()
        if record._name == "res.partner":
            partners |= record | record.commercial_partner_id
        elif "partner_id" in record._fields and record.partner_id:
            partners |= record.partner_id | record.partner_id.commercial_partner_id
        if "message_partner_ids" in record._fields:
            partners |= record.message_partner_ids
        for name in ("user_id", "user_ids"):
            field = record._fields.get(name)
            if field and field.comodel_name == "res.users":
                partners |= record[name].partner_id
        return partners

    @api.model
    def _converter_record_emails(self, record):
        """Normalised addresses that belong to ``record``: its people's, and the address the
        record itself holds (a lead's or ticket's customer email)."""
        emails = {p.email_normalized for p in self._converter_record_people(record)}
        for name in ("email_from", "partner_email", "email"):
            if name in record._fields and record._fields[name].type == "char":
                emails.add(addresses.normalize_email(record[name]))
        emails.discard(False)
        emails.discard("")
        return emails

    @api.model
    def _converter_record_domains(self, record):
        """Email domains of ``record``'s customer: its addresses and its company's website;
        free-mail domains never count."""
        partners = self.env["res.partner"].sudo()
        if record._name == "res.partner":
            partners = record.commercial_partner_id | record
        elif "partner_id" in record._fields:
            partners = record.partner_id.commercial_partner_id | record.partner_id
        domains = {addresses.email_domain(p.email_normalized or "") for p in partners}
        domains |= {addresses.website_domain(p.website) for p in partners if p.website}
        for name in ("email_from", "partner_email"):
            if name in record._fields and record._fields[name].type == "char":
                domains.add(addresses.email_domain(addresses.normalize_email(record[name])))
        return {d for d in domains if d and not addresses.is_freemail(d)}

    @api.model
    def _converter_sender_was_recipient(self, replied, mail):
        """Whether Odoo sent ``replied`` to the sender (or received it with the sender in To/Cc),
        or the sender wrote it: answering it is part of that conversation."""
        sender = self._converter_sender(mail)
        if not sender or not replied:
            return False
        replied = replied.sudo()
        partners = replied.author_id | replied.partner_ids | replied.notification_ids.res_partner_id
        if sender in set(partners.mapped("email_normalized")):
            return True
        if addresses.normalize_email(replied.email_from) == sender:
            return True
        copied = ", ".join(
            filter(
                None,
                [replied.incoming_email_to, replied.incoming_email_cc, replied.outgoing_email_to],
            )
        )
        return any(a.email == sender for a in addresses.parse_header(copied))

    @api.model
    def _converter_untrusted_note(self, record, mail, what):
        """The note saying that a tag or reply header was not trusted, for the log and simulator."""
        return self.env._(
            "%(what)s names %(record)s, but %(email)s does not belong to it: handled as a new email",
            what=what,
            record=record.sudo().display_name,
            email=self._converter_sender(mail) or self.env._("the sender"),
        )

    # -- end security ----------------------------------------------------------------------

    @api.model
    def _plan_tags(self, mail, source, plan):
        """File the email on records named by ID tags; the first receives it unless a reply
        header already chose its conversation. Only tags of records the sender belongs to
        count (:meth:`_converter_sender_belongs`); the others are noted."""
        tagged = self.env["mail.converter.tag"]._find_records(
            source.tag_patterns,
            mail.msg_dict.get("subject"),
            str(mail.msg_dict.get("body") or ""),
            company_id=source.company_id or None,
        )
        trusted = []
        for name, record in tagged:
            if self._converter_sender_belongs(record, mail, source):
                trusted.append((name, record))
            else:
                plan.note(
                    self._converter_untrusted_note(
                        record, mail, self.env._("Tag %(tag)s", tag=name)
                    )
                )
        tagged = trusted
        for name, record in tagged:
            plan.links.append(
                matcher.Link(
                    record._name,
                    record.id,
                    "",
                    "tag",
                    self.env._("Tag %(tag)s: %(record)s", tag=name, record=record.display_name),
                )
            )
        if tagged and not plan.route:
            record = tagged[0][1]
            plan.route = Route(
                record._name, record.id, why=self.env._("Tag %(tag)s", tag=tagged[0][0])
            )
            plan.followup = True

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
    def _converter_ticket_by_tag(self, tag_regex, msg_dict, source=None):
        """The ticket whose number ``tag_regex`` captures in the subject (in the mailbox's company)."""
        if not tag_regex:
            return self.env["helpdesk.ticket"]
        found = safe_regex.compile(tag_regex).search(msg_dict.get("subject") or "")
        if not found:
            return self.env["helpdesk.ticket"]
        number = found.group(1) if found.groups() else found.group(0)
        domain = [("number", "=ilike", number)]
        if source and source.company_id:
            domain.append(("company_id", "in", [source.company_id, False]))
        return self.env["helpdesk.ticket"].sudo().search(domain, limit=1)

    @api.model
    def _plan_default_route(self, mail, source, plan):
        """Without rules, inbound mail opens a record of the mailbox's model ("Create a New Record").

        With rules, the rules decide: mail no rule claims is only filed. Without a
        model, mail is only filed on the records it concerns. Sent mail never opens
        a record by itself.
        """
        if plan.route or source.rules or not source.model or mail.origin.direction == "outbound":
            return
        plan.route = Route(source.model, why=self.env._("The mailbox creates a new record"))

    @api.model
    def _plan_contacts(self, mail, source, plan):
        """Contacts to create for unknown addresses, by the mailbox's options, and for the unknown
        sender of a new ticket; the email is filed on them."""
        wanted = self._converter_addresses_to_create(mail, source)
        wanted += [
            a
            for a in self._converter_ticket_sender_to_create(mail, source, plan)
            if a.email not in {w.email for w in wanted}
        ]
        for address in wanted:
            company = (
                self._converter_company_for_domain(address.domain, source)
                if source.link_company_by_domain
                else self.env["res.partner"]
            )
            plan.contacts.append(NewContact(address, company.id, company.name or ""))
            plan.links.append(
                matcher.Link(
                    "res.partner",
                    0,
                    address.email,
                    address.role,
                    self.env._("New contact for %(email)s", email=address.email),
                )
            )
            if company:
                plan.links.append(
                    matcher.Link(
                        "res.partner",
                        company.id,
                        address.email,
                        address.role,
                        self.env._("Company of %(email)s (same domain)", email=address.email),
                        via_company=True,
                    )
                )

    @api.model
    def _converter_addresses_to_create(self, mail, source):
        """Addresses that should become contacts, by the mailbox's options."""
        matches = mail.matches
        known = {link.email for link in matches.links if link.model in ("res.partner", "res.users")}
        found = matches.addresses
        if mail.origin.direction == "outbound":
            if not source.create_outbound_contacts:
                return []
            wanted = [a for a in found if a.role in ("to", "cc")]
        else:
            recipients = {a.email for a in found if a.role != "from"}
            if not recipients & source.contact_creation_addresses:
                return []
            wanted = [a for a in found if a.role == "from"]
        skip = known | source.contact_creation_addresses | source.own_addresses
        wanted = [a for a in wanted if a.email not in skip]
        aliases = set(self.env["mail.alias.domain"].sudo()._find_aliases([a.email for a in wanted]))
        return [a for a in wanted if a.email not in aliases]

    @api.model
    def _converter_company_for_domain(self, domain, source=None):
        """The company whose website is on ``domain``; free-mail domains never match, nor
        companies of another company than the mailbox's (multi-company)."""
        if not domain or addresses.is_freemail(domain):
            return self.env["res.partner"]
        scope = [("is_company", "=", True), ("website", "ilike", domain)]
        if source and source.company_id:
            scope.append(("company_id", "in", [source.company_id, False]))
        companies = self.env["res.partner"].sudo().search(scope, limit=20, order="id")
        return companies.filtered(lambda c: addresses.website_domain(c.website) == domain)[:1]

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
        """Odoo's own loop guard: too many emails from one sender in a short time."""
        if not plan.route:
            return
        route = self._converter_odoo_routes(plan)
        if self._converter_mail_thread(source)._detect_loop_sender(
            mail.message, mail.msg_dict, route
        ):
            plan.finish(
                "discarded", self.env._("Mail loop detected (too many emails from this sender)")
            )

    @api.model
    def _plan_privacy(self, mail, source, plan):
        """Whether the imported email is private: a rule (``_plan_rules``), a ``Sensitivity``
        header, or *Imported/All emails private* on a record it concerns or is posted on.

        A private email that opens a record does not copy its text into the record's
        description, which everyone who sees the record reads.
        """
        reasons = [self._converter_sensitivity_reason(mail)]
        reasons += self._converter_flag_privacy_reasons(plan)
        for reason in filter(None, reasons):
            plan.private = True
            if reason not in plan.private_reasons:
                plan.private_reasons.append(reason)
        if plan.private and plan.route and plan.route.creates:
            plan.route.values.update(self._converter_private_record_values(plan.route.model))

    @api.model
    def _converter_sensitivity_reason(self, mail):
        """``Sensitivity: Private/Personal/Company-Confidential`` makes an email private."""
        value = privacy.private_sensitivity(mail.summary.headers.get("sensitivity"))
        return self.env._("Sensitivity: %(value)s header", value=value) if value else ""

    @api.model
    def _converter_flag_privacy_reasons(self, plan):
        """Why the records the email concerns or is posted on make it private (their flags,
        or their company's), in the order of the plan's links."""
        partner_ids = {link.res_id for link in plan.links if link.model == "res.partner"}
        lead_ids = {link.res_id for link in plan.links if link.model == "crm.lead"}
        holders = []
        route = plan.route
        if route and route.res_id and route.model in self.env:
            record = self.env[route.model].sudo().browse(route.res_id).exists()
            if record and hasattr(record, "_mail_converter_privacy_holders"):
                holders += record._mail_converter_privacy_holders()
        flagged = [
            ("mail_converter_import_private", "=", True),
            ("mail_converter_all_private", "=", True),
        ]
        if partner_ids - {0}:
            # One query; rarely any row: a contact is covered by its company's flags too.
            holders += (
                self.env["res.partner"]
                .sudo()
                .search(
                    [("id", "in", list(partner_ids - {0}))]
                    + ["|", "|", "|"]
                    + flagged
                    + [("commercial_partner_id." + f, op, v) for f, op, v in flagged],
                    order="id",
                )
            )
        if lead_ids - {0}:
            holders += (
                self.env["crm.lead"]
                .sudo()
                .search([("id", "in", list(lead_ids - {0})), "|"] + flagged, order="id")
            )
        reasons = []
        for holder in holders:
            company = holder.commercial_partner_id if holder._name == "res.partner" else holder
            for record in (holder, company):
                reason = self._converter_flag_privacy_reason(record)
                if reason and reason not in reasons:
                    reasons.append(reason)
        return reasons

    @api.model
    def _converter_flag_privacy_reason(self, record):
        """Why ``record``'s own flags make imported mail private, or ``""``."""
        if record.mail_converter_all_private:
            return self.env._("%(record)s: all emails private", record=record.display_name)
        if record.mail_converter_import_private:
            return self.env._("%(record)s: imported emails private", record=record.display_name)
        return ""

    @api.model
    def _converter_private_record_values(self, model):
        """Values of a record a private email creates: no copy of its text in the description."""
        if "description" not in self.env[model]._fields:
            return {}
        text = self.env._(
            "Private email: its text is in the chatter, for its author and the responsible."
        )
        return {"description": Markup("<p>%s</p>") % text}

    # -- helpdesk workflow (issue 10): bans, ticket contacts, reopening, acknowledgements --
    @api.model
    def _plan_ban(self, mail, source, plan):
        """A banned sender creates nothing: the email is rejected, naming the ban."""
        ban = self._converter_sender_ban(mail, source)
        if not ban:
            return
        plan.ban_id = ban.id
        plan.auto_reply = Decision(False, self.env._("Banned sender"))
        reason = self.env._("Banned sender (%(pattern)s)", pattern=ban.pattern)
        if ban.reason:
            reason = self.env._("%(reason)s: %(why)s", reason=reason, why=ban.reason)
        plan.finish("rejected", reason)

    @api.model
    def _converter_sender(self, mail):
        """The email's normalised From address, or ``""``."""
        return next((a.email for a in mail.matches.addresses if a.role == "from"), "")

    @api.model
    def _converter_sender_ban(self, mail, source):
        """The :class:`tools.bans.Ban` matching the sender, or ``None``; override to check more addresses."""
        return bans.find_ban(source.bans, self._converter_sender(mail))

    @api.model
    def _converter_ticket_sender_to_create(self, mail, source, plan):
        """The sender of received mail that opens a ticket becomes its contact when unknown."""
        route = plan.route
        if (
            not route
            or not route.creates
            or route.model != "helpdesk.ticket"
            or mail.origin.direction != "inbound"
            or mail.msg_dict.get("author_id")
        ):
            return []
        if source.only_linked and not self._converter_linked_beyond_users(plan):
            return []  # "Only import linked emails" discards it next; no contact for it
        known = {link.email for link in plan.links if link.model in ("res.partner", "res.users")}
        skip = known | source.own_addresses | source.mailbox_addresses
        wanted = [a for a in mail.matches.addresses if a.role == "from" and a.email not in skip]
        aliases = set(self.env["mail.alias.domain"].sudo()._find_aliases([a.email for a in wanted]))
        return [a for a in wanted if a.email not in aliases]

    @api.model
    def _plan_reopen(self, mail, source, plan):
        """With *Reopen closed tickets*, a customer's follow-up moves a closed ticket back to the
        team's first open stage; automatic replies never reopen anything."""
        route = plan.route
        if not (
            source.reopen_closed
            and plan.followup
            and route
            and route.model == "helpdesk.ticket"
            and route.res_id
            and mail.origin.direction == "inbound"
        ):
            return
        ticket = self.env["helpdesk.ticket"].sudo().browse(route.res_id)
        if not ticket.stage_id.closed or autoreply.robot_reason(mail.summary.headers):
            return
        stage = self._converter_reopen_stage(ticket)
        if stage:
            plan.reopen_stage_id = stage.id
            plan.note(
                self.env._(
                    "Reopens the ticket (%(old)s to %(new)s)",
                    old=ticket.stage_id.name,
                    new=stage.name,
                )
            )

    @api.model
    def _converter_reopen_stage(self, ticket):
        """The stage a reopened ticket goes to: its team's first stage that is not closed."""
        stages = ticket.team_id._get_applicable_stages()
        return stages.filtered(lambda stage: not stage.closed)[:1]

    @api.model
    def _plan_auto_reply(self, mail, source, plan):
        """Whether the sender of a new ticket gets an acknowledgement, and why not."""
        address = self._converter_sender(mail)
        reason = self._converter_no_auto_reply_reason(mail, source, plan, address)
        if reason:
            plan.auto_reply = Decision(False, reason, {"to": address})
            return
        plan.auto_reply = Decision(
            True,
            self.env._("Acknowledgement to %(email)s", email=address),
            {"to": address, "template_id": source.auto_reply_template_id},
        )

    @api.model
    def _converter_no_auto_reply_reason(self, mail, source, plan, address):
        """Why the email gets no acknowledgement, or ``None`` to send one; override to add a check."""
        _ = self.env._
        route = plan.route
        if plan.state != "done" or not route or plan.kind not in ("mail", "pec"):
            return _("Not converted")
        if route.model != "helpdesk.ticket" or not route.creates:
            return _("Not a new ticket")
        if not source.auto_reply_template_id:
            return _("The mailbox sends no acknowledgement")
        if mail.origin.direction != "inbound":
            return _("Sent mail")
        if mail.origin.backlog:
            return _("Backlog (imported from a file)")
        written = autoreply.mail_date(mail.summary.date, mail.origin.received)
        if source.activation_date and written and written < source.activation_date:
            return _(
                "Backlog: dated %(date)s, before the mailbox was activated",
                date=fields.Datetime.to_string(written),
            )
        robot = autoreply.robot_reason(mail.summary.headers) or autoreply.robot_sender_reason(
            address
        )
        if robot:
            return _("Automatic or bulk mail: %(why)s", why=robot)
        if not address:
            return _("No sender address")
        if address in source.own_addresses or address in source.mailbox_addresses:
            return _("Sent from one of our own mailbox addresses")
        if self.env["mail.alias.domain"].sudo()._find_aliases([address]):
            return _("Sent from one of our own aliases")
        if bans.find_ban(source.bans, address):
            return _("Banned sender")
        sent = self._converter_auto_reply_count(address)
        if sent >= source.auto_reply_limit:
            return _(
                "Loop guard: %(count)s acknowledgements sent to %(email)s in the last hour "
                "(limit %(limit)s)",
                count=sent,
                email=address,
                limit=source.auto_reply_limit,
            )
        return None

    @api.model
    def _converter_auto_reply_count(self, address, cr=None):
        """Acknowledgements sent to ``address`` in the last hour, by every mailbox and worker."""
        return len(self._converter_auto_reply_log_ids(address, cr))

    @api.model
    def _converter_auto_reply_log_ids(self, address, cr=None):
        """Ids of the log rows recording an acknowledgement to ``address`` in the last hour."""
        if cr is None:
            cr = self.env.cr
            self.env["mail.converter.log"].flush_model(
                ["auto_reply_state", "auto_reply_to", "auto_reply_date"]
            )
        cr.execute(
            SQL(
                "SELECT id FROM mail_converter_log WHERE auto_reply_state = 'sent' "
                "AND auto_reply_to = %s AND auto_reply_date >= %s",
                address,
                fields.Datetime.now() - timedelta(hours=1),
            )
        )
        return {row[0] for row in cr.fetchall()}

    # -- presenting -----------------------------------------------------------
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

    # -- special mail: certified mail (PEC), bounces, BCC logging ------------------------
    @api.model
    def _converter_describe_special(self, plan):
        """The line for bounces, BCC logs and certified mail, or ``None`` for ordinary mail."""
        if plan.kind == "bounce" and plan.bounce is not None:
            if not plan.bounce.recipients:
                return self.env._("Bounce: %(reason)s", reason=plan.reason)
            return self.env._(
                "Bounce, %(kind)s, for %(emails)s: %(outcome)s",
                kind=plan.bounce.bounce_class,
                emails=", ".join(r.email for r in plan.bounce.recipients),
                outcome=self._converter_bounce_outcome(plan.bounce),
            )
        if plan.kind == "bcc" and plan.bcc is not None:
            if plan.state != "done" or not plan.route:
                return None
            model = (
                self.env._("contact") if plan.route.model == "res.partner" else self.env._("lead")
            )
            return self.env._(
                "BCC log on %(model)s %(record)s, sent by %(rep)s",
                model=model,
                record=plan.bcc.record_name,
                rep=plan.bcc.representative_name,
            )
        if plan.pec is not None and plan.kind in ("pec", "pec_receipt"):
            head = self.env._("PEC from %(email)s", email=plan.pec.sender or "?")
            if plan.kind == "pec_receipt":
                head = self.env._(
                    "%(head)s, receipt of type %(type)s", head=head, type=plan.pec.receipt_type
                )
            return f"{head}: {self._converter_describe(dataclasses.replace(plan, kind='mail'))}"
        return None

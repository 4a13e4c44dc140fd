"""BCC logging: plan, apply and describe.

On a BCC logging mailbox, every email was BCC'd by a representative: it is
logged on the one contact or lead its To recipients designate, or refused and
(at most once an hour) explained to the sender. The planner and the pipeline
both inherit this model.
"""

from markupsafe import Markup

from odoo import Command, api, fields, models

from ..tools import bcc, bounce
from ..tools.plan import (
    BccPlan,
    Decision,
    Route,
)


class MailConverterBcc(models.AbstractModel):
    _name = "mail.converter.bcc"
    _description = "Mail converter: BCC logging"

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
        self._converter_file_special(mail, source, plan)

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
            self.env._("Explanation mailed to %(email)s", email=decision.detail["to"])
            if decision.yes
            else self.env._("No explanation mail: %(why)s", why=decision.reason)
        )
        plan.finish("rejected", reason)

    @api.model
    def _converter_bcc_explanation(self, mail, source, plan, reason):
        """Whether the sender gets an explanation (at its Return-Path, RFC 3834): never automatic
        mail, once an hour per reason."""
        sender = plan.bcc.sender
        to = self._converter_auto_reply_address(mail.summary.headers, sender)
        if not sender or not to:
            return Decision(False, self.env._("no sender address"))
        if {sender, to} & (source.own_addresses | source.mailbox_addresses):
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
                    ("bcc_explained_to", "=", to),
                    ("reason", "=", reason),
                    ("create_date", ">=", since),
                ],
                limit=1,
            )
        ):
            return Decision(False, self.env._("already explained within the hour"))
        no_reply = self._converter_no_reply_reason(mail, source)
        if no_reply:
            return Decision(False, no_reply)
        return Decision(True, self.env._("mailed to the sender"), {"to": to})

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
        """Mail the sender why their BCC email was not logged, when the plan says so and the
        mailbox's hourly cap, counted again under its lock, allows."""
        if not plan.bcc.explanation.yes:
            return
        capped = self._converter_hourly_cap_reason(source, lock=True)
        if capped:
            plan.bcc.explanation = Decision(False, capped)
            return
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
            "email_to": plan.bcc.explanation.detail["to"],
            "email_from": source.bcc_reply_from or False,
            "auto_delete": True,
            "headers": repr(headers),
        }

    @api.model
    def _converter_describe_bcc(self, plan):
        """The simulator's line for a logged BCC email, or ``None`` (a refusal reads as any)."""
        if plan.kind != "bcc" or plan.bcc is None or plan.state != "done" or not plan.route:
            return None
        model = self.env._("contact") if plan.route.model == "res.partner" else self.env._("lead")
        return self.env._(
            "BCC log on %(model)s %(record)s, sent by %(rep)s",
            model=model,
            record=plan.bcc.record_name,
            rep=plan.bcc.representative_name,
        )

    @api.model
    def _log_bcc_values(self, plan):
        """The log values of a BCC email: whom its refusal was explained to."""
        if plan.bcc is None:
            return {}
        explanation = plan.bcc.explanation
        return {"bcc_explained_to": explanation.detail["to"] if explanation.yes else False}

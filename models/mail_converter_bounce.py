"""Bounces (delivery failure reports): plan, apply and describe, and the bounce
counters Odoo resets when an address proves it works.

The planner and the pipeline both inherit this model.
"""

from markupsafe import Markup

from odoo import Command, api, fields, models, tools

from ..tools import bounce
from ..tools.plan import (
    BounceHolder,
    BouncePlan,
)


class MailConverterBounce(models.AbstractModel):
    _name = "mail.converter.bounce"
    _description = "Mail converter: delivery failure reports"

    @api.model
    def _plan_bounce(self, mail, source, plan):
        """Delivery failure reports never open a record nor get a reply: who bounced, hard or
        soft, and (mailbox option) the contacts and leads a hard-bounced address leaves.

        Only a bounce of mail this database sent to the bounced address changes anything:
        anyone can write a delivery report naming any address.
        """
        report = self._converter_bounce_report(mail)
        if report is None:
            return
        ours = source.own_addresses | source.mailbox_addresses
        recipients = [r for r in report.recipients if r.email not in ours]
        original, sent_to = self._converter_bounce_sent(
            self._converter_bounce_message_ids(mail, report)
        )
        confirmed = [r.email for r in recipients if r.email in sent_to]
        verified = [r.email for r in recipients if r.hard and r.email in sent_to]
        company = self._converter_bounce_company(original, source)
        remove = source.remove_bounced_address
        plan.kind = "bounce"
        plan.bounce = BouncePlan(
            recipients=recipients,
            hard=verified,
            remove=remove,
            holders=self._converter_bounce_holders(verified, company) if remove else [],
            original_message_ids=report.original_message_ids,
            original_id=original.id,
            confirmed=confirmed,
            company_id=company.id,
        )
        plan.finish("bounce", self._converter_bounce_reason(plan.bounce))

    @api.model
    def _converter_bounce_message_ids(self, mail, report):
        """Message-IDs the report may be about: the returned message's, then the report's own
        In-Reply-To and References."""
        found = list(report.original_message_ids)
        for key in ("in_reply_to", "references"):
            found += tools.mail.unfold_references(mail.msg_dict.get(key) or "")
        return list(dict.fromkeys(m.strip() for m in found if m and m.strip()))

    @api.model
    def _converter_bounce_sent(self, message_ids):
        """The message this database sent under one of ``message_ids`` and the addresses it
        went to (normalised), or an empty message and no address.

        Incoming emails do not count: their Message-ID was written by a stranger.
        """
        Message = self.env["mail.message"].sudo()
        if not message_ids:
            return Message, set()
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search([("message_id", "in", message_ids), ("message_type", "!=", "email")])
        )
        messages = Message.search(
            [("message_id", "in", message_ids), ("message_type", "!=", "email")],
            order="id desc",
        )
        addresses = set()
        for sent in mails:
            addresses.update(tools.email_normalize_all(sent.email_to or ""))
            addresses.update(tools.email_normalize_all(sent.email_cc or ""))
            addresses.update(filter(None, sent.recipient_ids.mapped("email_normalized")))
        for notification in (messages | mails.mail_message_id).notification_ids:
            if notification.notification_type == "email":
                addresses.add(notification.res_partner_id.email_normalized)
                addresses.add(tools.email_normalize(notification.mail_email_address or ""))
        addresses.discard(False)
        return (messages or mails.mail_message_id)[:1], addresses

    @api.model
    def _converter_bounce_company(self, original, source):
        """The company of the sent message, else the mailbox's: cleaning stays within it."""
        company = original.record_company_id
        if not company and original.model and original.res_id and original.model in self.env:
            record = self.env[original.model].sudo().browse(original.res_id).exists()
            company = record["company_id"] if "company_id" in record._fields else company
        return company or self.env["res.company"].browse(source.company_id)

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
    def _converter_bounce_holders(self, emails, company):
        """Contacts and leads of ``company`` (or shared) holding each address, alone or in a
        list; the partners of internal users are left alone."""
        holders = []
        in_company = [("company_id", "in", [company.id, False])]
        for address in emails:
            partners = (
                self.env["res.partner"]
                .sudo()
                .search([("email", "ilike", address), *in_company])
                .with_context(active_test=False)
            )
            for partner in partners:
                if bounce.holds_address(partner.email, address) and all(
                    user.share for user in partner.user_ids
                ):
                    holders.append(
                        BounceHolder(
                            "res.partner", partner.id, "email", address, partner.display_name
                        )
                    )
            leads = (
                self.env["crm.lead"].sudo().search([("email_from", "ilike", address), *in_company])
            )
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
        if not bounce_plan.ours:
            return self.env._("not a bounce of our mail; nothing changed")
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
    def _apply_bounce(self, plan, mail, source):
        """Count the bounce for Odoo; for a hard one (mailbox option), remove the address from the
        records holding it, with a note on each, and blocklist it: only when it bounces mail we
        sent to that address (``_plan_bounce``)."""
        self._apply_bounce_counters(plan, mail, source)
        bounce_plan = plan.bounce
        if not bounce_plan.remove or not bounce_plan.hard:
            return
        by_email = {r.email: r for r in bounce_plan.recipients}
        original = self.env["mail.message"].sudo().browse(bounce_plan.original_id).exists()
        if original.mail_converter_private:
            original = original.browse()  # its subject is not for the notes
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
        if not plan.bounce.ours:
            return
        MailThread = self.env["mail.converter.reader"]._converter_mail_thread(source)
        Partner = self.env["res.partner"].sudo()
        base = dict(
            mail.msg_dict,
            bounced_msg_ids=plan.bounce.original_message_ids or False,
            bounced_message=self.env["mail.message"].sudo().browse(plan.bounce.original_id),
        )
        company = self.env["res.company"].browse(plan.bounce.company_id)
        for address in plan.bounce.confirmed or [False]:
            partners = Partner
            if address:
                partners = Partner.search(
                    [("email_normalized", "=", address), ("company_id", "in", [company.id, False])]
                )
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
    def _plan_reset_bounce(self, mail, source, plan):
        """Mail from an address proves it works: Odoo then forgets its bounce count.

        Only records holding the sender's address can have one, and matching already
        found them: when the blocklist-enabled models are the matched ones (contacts,
        leads) and none holds the sender, Odoo's three look-ups are skipped.
        """
        if plan.state != "done" or not plan.route:
            return
        models_with_bounces = set(self._converter_bounce_models())
        matched = {link.model for link in plan.links if link.role == "from" and link.res_id}
        if models_with_bounces <= {"res.partner", "crm.lead"} and not matched & models_with_bounces:
            plan.reset_bounce = False
            plan.explain(
                self.env._("No contact or lead holds the sender: no bounce count to reset")
            )
        else:
            plan.explain(self.env._("The sender's bounce count is reset (the address works)"))

    @api.model
    def _apply_reset_bounce(self, plan, mail, mail_thread, msg_dict):
        """Reset the sender's bounce counters, as the plan says (``_plan_reset_bounce``)."""
        if plan.reset_bounce:
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
    def _converter_describe_bounce(self, plan):
        """The simulator's line for a bounce, or ``None``."""
        if plan.kind != "bounce" or plan.bounce is None:
            return None
        if not plan.bounce.recipients:
            return self.env._("Bounce: %(reason)s", reason=plan.reason)
        return self.env._(
            "Bounce, %(kind)s, for %(emails)s: %(outcome)s",
            kind=plan.bounce.bounce_class,
            emails=", ".join(r.email for r in plan.bounce.recipients),
            outcome=self._converter_bounce_outcome(plan.bounce),
        )

    @api.model
    def _log_bounce_values(self, plan):
        """The log values of a bounce: who bounced, how, and the records that lost the address."""
        if plan.bounce is None:
            return {}
        recipients = plan.bounce.recipients
        return {
            "bounce_recipients": ", ".join(r.email for r in recipients) or False,
            "bounce_class": plan.bounce.bounce_class or False,
            "bounce_diagnostic": "\n".join(
                f"{r.email}: {' '.join(filter(None, (r.status, r.action, r.diagnostic)))}"
                for r in recipients
            )
            or False,
            "bounce_message_id": plan.bounce.original_id or False,
            "link_ids": [Command.clear()]
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
        }

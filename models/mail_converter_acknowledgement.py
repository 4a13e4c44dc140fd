"""Acknowledgements of new tickets: whether one is sent (plan) and sending it (apply),
never more than the mailbox's limit per address and hour nor its cap over all addresses.
Automatic replies go to the email's Return-Path when it has one (RFC 3834).

The planner and the pipeline both inherit this model.
"""

from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..tools import autoreply, bans
from ..tools.plan import (
    Decision,
)


class MailConverterAcknowledgement(models.AbstractModel):
    _name = "mail.converter.acknowledgement"
    _description = "Mail converter: acknowledgements"

    @api.model
    def _plan_auto_reply(self, mail, source, plan):
        """Whether the sender of a new ticket gets an acknowledgement, and why not."""
        sender = self._converter_sender(mail)
        address = self._converter_auto_reply_address(mail.summary.headers, sender)
        reason = self._converter_no_auto_reply_reason(mail, source, plan, address)
        if reason:
            plan.auto_reply = Decision(False, reason, {"to": address})
            return
        plan.auto_reply = Decision(
            True,
            self.env._("Acknowledgement to %(email)s", email=address),
            {"to": address, "sender": sender, "template_id": source.auto_reply_template_id},
        )
        plan.explain(
            self.env._(
                "Loop guard: %(email)s got fewer than %(limit)s acknowledgements in the last "
                "hour; counted again, under a lock, when it is sent",
                email=address,
                limit=source.auto_reply_limit,
            )
        )

    @api.model
    def _converter_auto_reply_address(self, headers, sender):
        """The address automatic replies to an email go to: its ``Return-Path`` (RFC 3834
        section 4), else ``sender``; ``""`` for a null Return-Path."""
        return autoreply.reply_address(headers, sender)

    @api.model
    def _converter_reply_refused_reason(self, emails, source):
        """Why none of ``emails`` (the sender and the address replied to) may get an automatic
        reply: a robot, ourselves or a banned address; else ``None``."""
        _ = self.env._
        for email in dict.fromkeys(filter(None, emails)):
            robot = autoreply.robot_sender_reason(email)
            if robot:
                return _("Automatic or bulk mail: %(why)s", why=robot)
            if email in source.own_addresses or email in source.mailbox_addresses:
                return _("Sent from one of our own mailbox addresses")
            if self._converter_aliases([email], source):
                return _("Sent from one of our own aliases")
            if bans.find_ban(source.bans, email):
                return _("Banned sender")
        return None

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
        robot = autoreply.robot_reason(mail.summary.headers)
        if robot:
            return _("Automatic or bulk mail: %(why)s", why=robot)
        if not address:
            return _("No sender address")
        refused = self._converter_reply_refused_reason(
            [self._converter_sender(mail), address], source
        )
        if refused:
            return refused
        no_reply = self._converter_no_reply_reason(mail, source)
        if no_reply:
            return no_reply
        return self._converter_auto_reply_guard(
            address, self._converter_auto_reply_count(address), source
        )

    @api.model
    def _converter_no_reply_reason(self, mail, source):
        """Why no automatic reply (acknowledgement, BCC explanation) goes back, or ``None``: a
        null ``Return-Path`` (RFC 3834), or the mailbox's hourly cap over all senders."""
        if (mail.summary.headers.get("return-path") or "").strip() == "<>":
            return self.env._("Null Return-Path: no automatic reply (RFC 3834)")
        return self._converter_hourly_cap_reason(source)

    @api.model
    def _converter_hourly_cap_reason(self, source, lock=False):
        """``not sent: hourly cap`` when this mailbox sent its cap of automatic replies (all
        addresses together) in the last hour, else ``None``: a flood of forged senders gets no
        backscatter past it.

        ``lock`` (when sending) counts under a lock on the mailbox, held until this
        transaction commits, so that concurrent workers take turns and never both read
        "under the cap". Take it before the per-address lock (``_auto_reply_sent_count``):
        one order, no deadlock between two workers of one mailbox.
        """
        if not source.server_id:
            return None
        if lock:
            self.env.cr.execute(
                SQL(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    f"mail_converter.hourly_cap:{source.server_id}",
                )
            )
        ids = self._converter_hourly_reply_log_ids(source.server_id)
        if lock:
            # This transaction's snapshot may predate the other worker's commit.
            with self.env.registry.cursor() as cr:
                ids |= self._converter_hourly_reply_log_ids(source.server_id, cr)
        sent = len(ids)
        if sent < source.auto_reply_hourly_cap:
            return None
        return self.env._(
            "Not sent: hourly cap (%(count)s automatic replies from this mailbox in the last "
            "hour, cap %(cap)s)",
            count=sent,
            cap=source.auto_reply_hourly_cap,
        )

    @api.model
    def _converter_hourly_reply_log_ids(self, server_id, cr=None):
        """Ids of the log rows of mailbox ``server_id`` recording an automatic reply (an
        acknowledgement, a size notice or a BCC explanation) in the last hour."""
        if cr is None:
            cr = self.env.cr
            self.env["mail.converter.log"].flush_model()
        since = fields.Datetime.now() - timedelta(hours=1)
        cr.execute(
            SQL(
                "SELECT id FROM mail_converter_log WHERE server_id = %s AND ("
                "(auto_reply_state = 'sent' AND auto_reply_date >= %s) "
                "OR (bcc_explained_to IS NOT NULL AND create_date >= %s))",
                server_id,
                since,
                since,
            )
        )
        return {row[0] for row in cr.fetchall()}

    @api.model
    def _converter_auto_reply_guard(self, address, sent, source):
        """The mail loop guard: why ``sent`` acknowledgements to ``address`` in the last hour
        forbid another, or ``None``. Planning and sending (which counts again under a lock,
        for concurrent workers) both ask it."""
        if sent < source.auto_reply_limit:
            return None
        return self.env._(
            "Loop guard: %(count)s acknowledgements sent to %(email)s in the last hour "
            "(limit %(limit)s)",
            count=sent,
            email=address,
            limit=source.auto_reply_limit,
        )

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

    @api.model
    def _apply_auto_reply(self, plan, mail, source, record, message):
        """Send the acknowledgement the plan decided, never more than the mailbox's limit per
        address and hour nor its hourly cap, whatever the number of workers; return the log
        values recording it."""
        decision = plan.auto_reply
        if not decision.yes:
            return self._auto_reply_log_values(decision)
        address = decision.detail["to"]
        guard = self._converter_hourly_cap_reason(
            source, lock=True
        ) or self._converter_auto_reply_guard(address, self._auto_reply_sent_count(address), source)
        if guard:
            return self._auto_reply_log_values(decision, not_sent=guard)
        template = self.env["mail.template"].sudo().browse(source.auto_reply_template_id).exists()
        if not template or record._name != "helpdesk.ticket":
            return self._auto_reply_log_values(
                decision, not_sent=self.env._("The acknowledgement template no longer exists")
            )
        self._auto_reply_send(
            template, record, source, message, address, decision.detail.get("sender")
        )
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
        ids = self._converter_auto_reply_log_ids(address)
        with self.env.registry.cursor() as cr:
            ids |= self._converter_auto_reply_log_ids(address, cr)
        return len(ids)

    @api.model
    def _auto_reply_send(self, template, ticket, source, message, address, sender=None):
        """Queue the acknowledgement to ``address`` through Odoo's outgoing mail, marked
        automatic (RFC 3834); when it is a Return-Path other than the ``sender``, to it alone."""
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
        elif sender and address != sender:
            # The template names the ticket's customer (the From): RFC 3834 wants the Return-Path.
            values.update(email_to=address, email_cc=False, recipient_ids=[])
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

    # -- the notice to the sender of an email too large to import --------------------------
    @api.model
    def _apply_size_notice(self, log, summary, source, origin, size):
        """Tell the sender of an email left on the server for its size, once per email, with
        the acknowledgements' loop guards; record it on the log like an acknowledgement."""
        if log.auto_reply_state:
            return  # decided when the email was first seen: never a second notice
        sender = tools.email_normalize(summary.email_from or "") or ""
        address = self._converter_auto_reply_address(summary.headers, sender)
        decision = Decision(
            True, self.env._("Size notice to %(email)s", email=address), {"to": address}
        )
        reason = self._converter_no_size_notice_reason(summary, source, origin, address)
        if not reason:
            reason = self._converter_hourly_cap_reason(
                source, lock=True
            ) or self._converter_auto_reply_guard(
                address, self._auto_reply_sent_count(address), source
            )
        if reason:
            log.write(self._auto_reply_log_values(decision, not_sent=reason))
            return
        self._size_notice_send(summary, source, address, size)
        log.write(
            dict(self._auto_reply_log_values(decision), auto_reply_date=fields.Datetime.now())
        )

    @api.model
    def _converter_no_size_notice_reason(self, summary, source, origin, address):
        """Why the sender of a too large email gets no notice, or ``None``; override to add a check."""
        _ = self.env._
        if origin.direction != "inbound":
            return _("Sent mail")
        if origin.backlog:
            return _("Backlog (imported from a file)")
        written = autoreply.mail_date(summary.date, origin.received)
        if source.activation_date and written and written < source.activation_date:
            return _("Backlog: dated before the mailbox was activated")
        robot = autoreply.robot_reason(summary.headers)
        if robot:
            return _("Automatic or bulk mail: %(why)s", why=robot)
        if not address:
            return _("No sender address")
        sender = tools.email_normalize(summary.email_from or "") or ""
        return self._converter_reply_refused_reason([sender, address], source)

    @api.model
    def _size_notice_send(self, summary, source, address, size):
        """Queue the notice through Odoo's outgoing mail, marked automatic (RFC 3834)."""
        size_mb = round(size / 1048576, 1)
        limit_mb = round(source.max_message_size / 1048576, 1)
        subject = summary.subject or ""
        body = self.env._(
            "<p>Your message of %(size)s MB was not received; the limit is %(limit)s MB.</p>"
            "<p>Please send it again in smaller parts, or share large files by a link.</p>"
            "<p>This is an automatic message.</p>",
            size=size_mb,
            limit=limit_mb,
        )
        mail = (
            self.env["mail.mail"]
            .sudo()
            .create(
                {
                    "subject": self.env._("Not received: %(subject)s", subject=subject)
                    if subject
                    else self.env._("Your message was not received"),
                    "body_html": body,
                    "email_from": source.reply_email or False,
                    "email_to": address,
                    "references": summary.message_id or False,
                    "headers": repr(self._auto_reply_headers(source)),
                    "auto_delete": False,
                }
            )
        )
        cron = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if cron:
            cron._trigger()
        return mail

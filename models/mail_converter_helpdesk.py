"""Helpdesk workflow: banned senders, customers' follow-ups and reopened tickets."""

from datetime import timedelta

from odoo import api, fields, models

from ..tools import autoreply, bans
from ..tools.plan import (
    Decision,
    Route,
)


class MailConverterHelpdesk(models.AbstractModel):
    _name = "mail.converter.helpdesk"
    _description = "Mail converter: helpdesk workflow"

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
    def _converter_sender_ban(self, mail, source):
        """The :class:`tools.bans.Ban` matching the sender, or ``None``; override to check more addresses."""
        return bans.find_ban(source.bans, self._converter_sender(mail))

    @api.model
    def _plan_reopen(self, mail, source, plan):
        """A customer's reply to a closed ticket: within the reopen time (the team's, else the
        mailbox's) it moves the ticket back to the team's first open stage; later it opens a
        new ticket linked to the old one. Automatic replies never reopen anything."""
        route = plan.route
        if not (plan.customer_followup and route and route.model == "helpdesk.ticket"):
            return
        ticket = self.env["helpdesk.ticket"].sudo().browse(route.res_id)
        if not ticket.stage_id.closed:
            return
        robot = autoreply.robot_reason(mail.summary.headers) or autoreply.robot_sender_reason(
            self._converter_sender(mail)
        )
        if robot:
            plan.explain(
                self.env._("Automatic reply (%(why)s): the ticket stays closed", why=robot)
            )
            return
        days = self._converter_reopen_days(ticket, source)
        if not days:
            plan.explain(self.env._("The mailbox never reopens tickets: filed on the closed one"))
            return
        closed = ticket.closed_date or ticket.write_date
        if closed and closed >= fields.Datetime.now() - timedelta(days=days):
            self._converter_plan_reopen_stage(ticket, days, plan)
        else:
            self._converter_plan_new_ticket(mail, source, ticket, days, plan)

    @api.model
    def _converter_reopen_days(self, ticket, source):
        """For how many days after its closing a reply reopens ``ticket``: its team's number,
        else the mailbox's (0: never)."""
        return ticket.team_id.mail_converter_reopen_days or source.reopen_days

    @api.model
    def _converter_plan_reopen_stage(self, ticket, days, plan):
        """Plan moving the closed ``ticket`` back to its team's first open stage."""
        stage = self._converter_reopen_stage(ticket)
        if not stage:
            return
        plan.reopen_stage_id = stage.id
        plan.note(
            self.env._(
                "Reopens the ticket (%(old)s to %(new)s): closed less than %(days)s days ago",
                old=ticket.stage_id.name,
                new=stage.name,
                days=days,
            )
        )

    @api.model
    def _converter_plan_new_ticket(self, mail, source, ticket, days, plan):
        """Plan a new ticket continuing ``ticket``, closed more than ``days`` days ago: same
        team, customer and followers, and its acknowledgement says it is a new request."""
        values = {"mail_converter_followup_of_id": ticket.id}
        if ticket.team_id:
            values["team_id"] = ticket.team_id.id
        if ticket.partner_id:
            values["partner_id"] = ticket.partner_id.id
        plan.route = Route(
            "helpdesk.ticket",
            values=values,
            why=self.env._(
                "Follow-up of %(number)s, closed more than %(days)s days ago",
                number=ticket.number,
                days=days,
            ),
        )
        plan.followup = plan.customer_followup = False
        plan.followup_of_id = ticket.id
        candidates = (ticket.user_id.id, *self._converter_assignee_candidates(mail, source, plan))
        plan.assignee_id = next(
            (user_id for user_id in candidates if user_id and self._converter_can_assign(user_id)),
            0,
        )
        plan.note(
            self.env._(
                "Opens a new ticket: %(number)s was closed more than %(days)s days ago",
                number=ticket.number,
                days=days,
            )
        )

    @api.model
    def _plan_followup(self, mail, source, plan):
        """A received follow-up on a ticket flags it for the team, unless a colleague wrote
        it: only the customer's email is the customer's follow-up."""
        route = plan.route
        if not (
            plan.followup
            and route
            and route.model == "helpdesk.ticket"
            and route.res_id
            and mail.origin.direction == "inbound"
        ):
            return
        author = self.env["res.partner"].sudo().browse(plan.author_id)
        if author and any(not user.share for user in author.user_ids):
            plan.explain(
                self.env._(
                    "%(name)s is a colleague: not the customer's follow-up", name=author.name
                )
            )
            return
        plan.customer_followup = True
        plan.explain(self.env._("The customer's follow-up: the ticket is flagged"))

    @api.model
    def _converter_reopen_stage(self, ticket):
        """The stage a reopened ticket goes to: its team's first stage that is not closed."""
        stages = ticket.team_id._get_applicable_stages()
        return stages.filtered(lambda stage: not stage.closed)[:1]

    @api.model
    def _apply_ticket_followup(self, plan, mail, record, message):
        """A ticket's new or follow-up email: no stage email from helpdesk_mgmt (the
        acknowledgement replaces it); a customer's follow-up flags the ticket and may reopen it."""
        if record._name != "helpdesk.ticket":
            return
        record._mail_converter_silence_stage_mails()
        if plan.followup_of_id:
            self._converter_link_followup_ticket(record, plan.followup_of_id)
        if not plan.customer_followup:
            return
        values = {"mail_converter_followup": True}
        if plan.reopen_stage_id:
            values["stage_id"] = plan.reopen_stage_id
        record.sudo().write(values)

    @api.model
    def _converter_link_followup_ticket(self, ticket, old_id):
        """Link the new ``ticket`` and the closed one it continues: a note on both, and the
        old ticket's followers follow the new one."""
        old = self.env["helpdesk.ticket"].sudo().browse(old_id).exists()
        if not old:
            return
        ticket = ticket.sudo()
        ticket.message_subscribe(partner_ids=old.message_partner_ids.ids)
        # links, so that a user goes from one ticket to the other in the chatter
        ticket.message_post(
            body=self.env._("Follow-up of %(number)s", number=old._get_html_link(old.number)),
            message_type="notification",
            subtype_xmlid="mail.mt_note",
        )
        old.message_post(
            body=self.env._("Follow-up: %(number)s", number=ticket._get_html_link(ticket.number)),
            message_type="notification",
            subtype_xmlid="mail.mt_note",
        )

"""Helpdesk workflow: banned senders, customers' follow-ups and reopened tickets."""

from odoo import api, models

from ..tools import autoreply, bans
from ..tools.plan import (
    Decision,
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
        """With *Reopen closed tickets*, a customer's follow-up moves a closed ticket back to the
        team's first open stage; automatic replies never reopen anything."""
        route = plan.route
        if not (
            source.reopen_closed
            and plan.customer_followup
            and route
            and route.model == "helpdesk.ticket"
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
        if not plan.customer_followup:
            return
        values = {"mail_converter_followup": True}
        if plan.reopen_stage_id:
            values["stage_id"] = plan.reopen_stage_id
        record.sudo().write(values)

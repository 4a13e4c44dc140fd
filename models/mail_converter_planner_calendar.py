"""Answers to our own meeting invitations are filed on the meeting (when ``calendar`` is installed).

``calendar`` is optional: without it the stage does nothing and an answer is
handled as any other email. Odoo's invitations carry no stable UID, so the
meeting is found by what the answer repeats: its start, its organizer, and the
answering attendee, who must be the sender.
"""

from odoo import api, fields, models

from ..tools import calendar_invite
from ..tools.addresses import normalize_email
from ..tools.plan import Route


class MailConverterPlanner(models.AbstractModel):
    _inherit = "mail.converter.planner"

    @api.model
    def _converter_plan_stages(self):
        stages = super()._converter_plan_stages()
        if "_plan_reply" in stages:
            stages.insert(stages.index("_plan_reply"), "_plan_calendar_reply")
        return stages

    @api.model
    def _plan_calendar_reply(self, mail, source, plan):
        """An attendee's answer to a meeting we organise continues that meeting's conversation."""
        if plan.route or "calendar.event" not in self.env:
            return
        invitation = self.env["mail.converter.content"]._converter_invitation(mail.message)
        if invitation is None or invitation.method != "REPLY":
            return
        event = self._converter_invited_event(invitation, mail, source)
        if event:
            plan.route = Route(
                "calendar.event", event.id, why=self.env._("Answer to a meeting invitation")
            )
            plan.followup = True

    @api.model
    def _converter_invited_event(self, invitation, mail, source):
        """Our meeting ``invitation`` answers, when the sender is the answering attendee; an empty
        recordset otherwise."""
        Event = self.env["calendar.event"].sudo()
        person = calendar_invite.replier(invitation)
        sender = self._converter_sender(mail)
        if not person or not invitation.organizer or invitation.start is None:
            return Event
        if not sender or normalize_email(person.email) != sender:
            return Event
        if invitation.all_day:
            domain = [("allday", "=", True), ("start_date", "=", invitation.start)]
        else:
            start = fields.Datetime.to_datetime(
                invitation.start.astimezone(calendar_invite.zone("UTC")).replace(tzinfo=None)
            )
            domain = [("allday", "=", False), ("start", "=", start)]
        organizer = normalize_email(invitation.organizer.email)
        domain += [
            ("partner_ids.email_normalized", "=", sender),
            "|",
            ("user_id.email_normalized", "=", organizer),
            ("user_id.partner_id.email_normalized", "=", organizer),
        ]
        for event in Event.search(domain, limit=5, order="id desc"):
            if self._converter_in_company(event, source):
                return event
        return Event

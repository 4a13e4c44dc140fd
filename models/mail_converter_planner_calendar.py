"""Answers to our own meeting invitations are filed on the meeting (when ``calendar`` is installed).

``calendar`` is optional: without it the stage does nothing and an answer is
handled as any other email. The meeting is the one whose invitation we sent
with the answer's UID (Odoo does not store the UID: it is read back from the
``.ics`` of the invitation emails posted on the meeting). Only the answering
attendee's own status changes, and only when that attendee sent the answer.
"""

from odoo import api, models

from ..tools import calendar_invite
from ..tools.addresses import normalize_email
from ..tools.plan import Route

# iTIP PARTSTAT of an answer -> calendar.attendee state
ANSWER_STATES = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative"}
# How many of the attendee's latest meetings are searched for the answered invitation.
MAX_MEETINGS = 100


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
        """An attendee's answer to a meeting we invited them to continues that meeting's
        conversation and sets their status."""
        if plan.route or "calendar.event" not in self.env:
            return
        invitation = self.env["mail.converter.content"]._converter_invitation(mail.message)
        if invitation is None or invitation.method != "REPLY":
            return
        attendee = self._converter_invited_attendee(invitation, mail, source)
        if not attendee:
            return
        plan.route = Route(
            "calendar.event", attendee.event_id.id, why=self.env._("Answer to a meeting invitation")
        )
        plan.followup = True
        state = ANSWER_STATES.get(calendar_invite.replier(invitation).status)
        if state:
            plan.calendar_answer = (attendee.id, state)
            answers = {
                "accepted": self.env._("accepted"),
                "declined": self.env._("declined"),
                "tentative": self.env._("tentatively accepted"),
            }
            plan.note(
                self.env._(
                    "%(email)s answered the meeting invitation: %(answer)s",
                    email=attendee.email,
                    answer=answers[state],
                )
            )

    @api.model
    def _converter_invited_attendee(self, invitation, mail, source):
        """The ``calendar.attendee`` answering ``invitation``: the sender, invited to a meeting of
        the mailbox's company whose invitation we sent with this UID; empty otherwise."""
        Attendee = self.env["calendar.attendee"].sudo()
        person = calendar_invite.replier(invitation)
        sender = self._converter_sender(mail)
        if not person or not invitation.uid or not sender:
            return Attendee
        if normalize_email(person.email) != sender:
            return Attendee
        invited = Attendee.search(
            [("partner_id.email_normalized", "=", sender)], limit=MAX_MEETINGS, order="id desc"
        )
        for event in self._converter_events_sent_with_uid(invited.event_id, invitation.uid):
            if self._converter_event_in_company(event, source):
                return invited.filtered(lambda a, event=event: a.event_id == event)[:1]
        return Attendee

    @api.model
    def _converter_events_sent_with_uid(self, events, uid):
        """Those of ``events`` whose invitation we emailed with iCalendar ``uid``: an ``.ics`` on a
        message we posted (never an incoming email, whose file anyone could write)."""
        if not events:
            return events
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", "calendar.event"),
                    ("res_id", "in", events.ids),
                    ("message_type", "!=", "email"),
                    ("attachment_ids.mimetype", "=", "text/calendar"),
                ],
                order="id desc",
            )
        )
        found = set()
        for message in messages:
            if message.res_id in found:
                continue
            for attachment in message.attachment_ids:
                if attachment.mimetype != "text/calendar":
                    continue
                sent = calendar_invite.parse(attachment.raw or b"")
                if sent is not None and sent.uid == uid:
                    found.add(message.res_id)
        return events.filtered(lambda event: event.id in found).sorted("id", reverse=True)

    @api.model
    def _converter_event_in_company(self, event, source):
        """Whether ``event`` belongs to the mailbox's company: its organizer works there."""
        if not source.company_id:
            return True
        return source.company_id in event.user_id.company_ids.ids

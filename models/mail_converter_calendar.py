"""An answer to our meeting invitation sets its attendee's status (see the planner's stage)."""

from odoo import api, models


class MailConverter(models.AbstractModel):
    _inherit = "mail.converter"

    @api.model
    def _apply_calendar_answer(self, plan):
        """Set the status the answering attendee gave (accepted, declined or tentative)."""
        attendee_id, state = plan.calendar_answer
        attendee = self.env["calendar.attendee"].sudo().browse(attendee_id).exists()
        if attendee and attendee.state != state:
            attendee.state = state

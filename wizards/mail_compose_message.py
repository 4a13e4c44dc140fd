from odoo import api, fields, models


class MailComposeMessage(models.TransientModel):
    """ "Reply from mailbox" (the default) or "Reply as me" on tickets that came from a mailbox."""

    _inherit = "mail.compose.message"

    mail_converter_reply_mode = fields.Selection(
        [("mailbox", "Reply from mailbox"), ("me", "Reply as me")],
        "Send as",
        default="mailbox",
        help="Reply from mailbox: sent from the ticket's mailbox address, so the customer's "
        "answer comes back to the ticket. Reply as me: sent from your own address.",
    )
    mail_converter_show_reply_mode = fields.Boolean(
        compute="_compute_mail_converter_show_reply_mode"
    )

    @api.depends("model", "res_ids", "composition_mode")
    def _compute_mail_converter_show_reply_mode(self):
        for composer in self:
            show = composer.model == "helpdesk.ticket" and composer.composition_mode == "comment"
            if show:
                tickets = self.env["helpdesk.ticket"].browse(composer._evaluate_res_ids())
                show = any(t._mail_converter_mailbox_email() for t in tickets.exists())
            composer.mail_converter_show_reply_mode = show

    def _action_send_mail_comment(self, res_ids):
        # The reply mode travels in the context down to message_post and the Reply-To.
        self = self.with_context(mail_converter_reply_mode=self.mail_converter_reply_mode)
        return super()._action_send_mail_comment(res_ids)

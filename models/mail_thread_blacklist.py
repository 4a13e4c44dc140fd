from odoo import models


class MailThreadBlacklist(models.AbstractModel):
    """Bounce counters stay within the bounced message's company (``_routing_handle_bounce``)."""

    _inherit = "mail.thread.blacklist"

    def _message_receive_bounce(self, email, partner):
        company_id = self.env.context.get("mail_converter_bounce_company")
        if not company_id:
            return super()._message_receive_bounce(email, partner)
        company = self.env["res.company"].browse(company_id)
        in_scope = self._mail_converter_bounce_scope(company)
        return super(MailThreadBlacklist, in_scope)._message_receive_bounce(email, partner)

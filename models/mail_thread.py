from odoo import models


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    def message_post(self, **kwargs):
        message = super().message_post(**kwargs)
        # Hand the stored message to the converter without searching for it again.
        posted = self.env.context.get("mail_converter_posted")
        if posted is not None:
            posted.append(message)
        return message

import logging

from odoo import fields, models

from ..tools import privacy

_logger = logging.getLogger(__name__)


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    # The messages an attachment belongs to (inverse of mail.message.attachment_ids): the
    # record rule hides the attachments of private messages, wherever they are stored.
    mail_converter_message_ids = fields.Many2many(
        "mail.message",
        "message_attachment_rel",
        "attachment_id",
        "message_id",
        string="Messages",
        readonly=True,
        copy=False,
    )

    def _postprocess_contents(self, values):
        # Odoo only catches UserError here, but Pillow raises arbitrary errors on
        # corrupt images; an imported email must not be lost for a broken picture.
        if not privacy.is_importing(self.env.context):
            return super()._postprocess_contents(values)
        try:
            return super()._postprocess_contents(values)
        except Exception as exc:  # noqa: BLE001 - store the file as it came
            _logger.info("Mail converter: image %r kept unprocessed: %s", values.get("name"), exc)
            return values

from odoo import fields, models


class MailConverterFiledMixin(models.AbstractModel):
    """Records emails are filed on: the "Emails" smart button."""

    _name = "mail.converter.filed.mixin"
    _description = "Record that imported emails are filed on"

    mail_converter_email_count = fields.Integer(
        "Emails", compute="_compute_mail_converter_email_count"
    )

    def _compute_mail_converter_email_count(self):
        counts = dict(
            self.env["mail.converter.link"]
            .sudo()
            ._read_group(
                [
                    ("model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("log_id.mail_message_id", "!=", False),
                ],
                ["res_id"],
                ["__count"],
            )
        )
        for record in self:
            record.mail_converter_email_count = counts.get(record.id, 0)

    def _mail_converter_message_ids(self):
        """Ids of the imported messages filed on these records; override to widen (e.g. a company's contacts)."""
        links = (
            self.env["mail.converter.link"]
            .sudo()
            .search([("model", "=", self._name), ("res_id", "in", self.ids)])
        )
        return links.log_id.mail_message_id.ids

    def action_mail_converter_emails(self):
        """Open the imported emails filed on this record (access rules of mail.message apply)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Emails of %(record)s", record=self.display_name),
            "res_model": "mail.message",
            "view_mode": "list,form",
            "views": [
                (self.env.ref("mail_converter.mail_message_view_list_converter").id, "list"),
                (False, "form"),
            ],
            "domain": [("id", "in", self._mail_converter_message_ids())],
            "context": {"create": False},
        }

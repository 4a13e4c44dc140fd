from odoo import api, fields, models


class MailConverterFiledMixin(models.AbstractModel):
    """Records emails are filed on: the "Emails" smart button."""

    _name = "mail.converter.filed.mixin"
    _description = "Record that imported emails are filed on"

    mail_converter_email_count = fields.Integer(
        "Emails", compute="_compute_mail_converter_email_count"
    )

    @api.depends_context("uid")
    def _compute_mail_converter_email_count(self):
        links = (
            self.env["mail.converter.link"]
            .sudo()
            .search_fetch(
                [
                    ("model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("log_id.mail_message_id", "!=", False),
                ],
                ["res_id", "log_id"],
            )
        )
        # Count only what the user may see: private emails are hidden by record rules.
        visible = set(
            self.env["mail.message"].search([("id", "in", links.log_id.mail_message_id.ids)]).ids
        )
        counts = {}
        for link in links:
            if link.log_id.mail_message_id.id in visible:
                counts[link.res_id] = counts.get(link.res_id, 0) + 1
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

from odoo import api, fields, models


class MailConverterLink(models.Model):
    _name = "mail.converter.link"
    _description = "Record an email was filed on"
    _order = "id"

    log_id = fields.Many2one("mail.converter.log", required=True, ondelete="cascade", index=True)
    model = fields.Char(required=True, index=True)
    res_id = fields.Many2oneReference("Record", model_field="model", required=True, index=True)
    role = fields.Selection(
        [("primary", "Primary record"), ("related", "Related record")],
        required=True,
        default="related",
        help="The primary record holds the email in its chatter.",
    )
    reason = fields.Char(help="Why the email was filed on this record.")
    # Security (multi-company): a link is its email's, kept apart by the log's company.
    # Precomputed: set in the INSERT of the link, not by an UPDATE after it.
    company_id = fields.Many2one(
        related="log_id.company_id", store=True, index=True, precompute=True
    )

    _record_unique = models.Constraint(
        "UNIQUE(log_id, model, res_id)", "An email is filed once per record."
    )

    @api.depends("model", "res_id")
    def _compute_display_name(self):
        for link in self:
            record = (
                self.env[link.model].browse(link.res_id).exists()
                if link.model in self.env
                else None
            )
            link.display_name = record.display_name if record else f"{link.model},{link.res_id}"

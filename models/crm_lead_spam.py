from odoo import api, models


class CrmLead(models.Model):
    """Mark as spam on leads (helpdesk workflow), kept apart from the lead's privacy fields."""

    _inherit = "crm.lead"

    def action_mail_converter_spam(self):
        """Ask to mark these leads as spam: ban their senders, delete them and their new contacts."""
        return self.env["mail.converter.spam"]._open_for(self)

    def _mail_converter_spam_sender(self):
        """The normalised address that sent this lead, or ``""``."""
        self.ensure_one()
        return self.email_normalized or self.partner_id.email_normalized or ""

    @api.model
    def _mail_converter_spam_next_action(self):
        """Where the user lands after marking leads as spam from a form."""
        xmlid = (
            "crm.crm_lead_all_leads"
            if self.env.user.has_group("crm.group_use_lead")
            else "crm.crm_lead_action_pipeline"
        )
        return self.env["ir.actions.act_window"]._for_xml_id(xmlid)

"""What a sender that failed authentication loses: it counts as an unknown sender (C11).

Where the sender's identity grants something (ID-tag and reply trust, BCC logging,
authorship, being one of the customer's colleagues, a contact of its own), a sender
whose email the mailbox's trusted servers marked as failed (or, with *Require sender
authentication*, did not authenticate) is treated as a stranger.
"""

from odoo import api, models

from ..tools.plan import BccPlan, Decision


class MailConverterPlanner(models.AbstractModel):
    _inherit = "mail.converter.planner"

    @api.model
    def _converter_sender_untrusted(self, mail):
        """Whether the sender of ``mail`` counts as unknown (failed sender authentication)."""
        auth = getattr(mail, "sender_auth", None)
        return bool(auth and auth.untrusted)

    @api.model
    def _converter_sender_was_recipient(self, replied, mail):
        if self._converter_sender_untrusted(mail):
            return False
        return super()._converter_sender_was_recipient(replied, mail)

    @api.model
    def _converter_sender_belongs(self, record, mail, source):
        if self._converter_sender_untrusted(mail):
            return False
        return super()._converter_sender_belongs(record, mail, source)

    @api.model
    def _converter_untrusted_note(self, record, mail, what):
        if not self._converter_sender_untrusted(mail):
            return super()._converter_untrusted_note(record, mail, what)
        return self.env._(
            "%(what)s names %(record)s, but the sender %(email)s is not authenticated "
            "(%(detail)s): handled as a new email",
            what=what,
            record=record.sudo().display_name,
            email=self._converter_sender(mail) or self.env._("the sender"),
            detail=mail.sender_auth.detail,
        )

    @api.model
    def _plan_bcc(self, mail, source, plan):
        """A BCC email from an unauthenticated sender is refused, and nobody is mailed: the
        forged address must not receive our explanation."""
        if not source.bcc_logging or not self._converter_sender_untrusted(mail):
            return super()._plan_bcc(mail, source, plan)
        plan.kind = "bcc"
        sender = self._converter_sender(mail)
        reason = self.env._(
            "%(email)s is not authenticated (%(detail)s)",
            email=sender or self.env._("The sender"),
            detail=mail.sender_auth.detail,
        )
        plan.bcc = BccPlan(
            sender=sender,
            category_id=source.bcc_category_id,
            explanation=Decision(False, self.env._("the sender is not authenticated")),
        )
        plan.note(self.env._("No explanation mail: the sender is not authenticated"))
        plan.finish("rejected", reason)

    @api.model
    def _plan_author(self, mail, source, plan):
        """An unauthenticated sender is nobody's contact: the message keeps its From as written."""
        result = super()._plan_author(mail, source, plan)
        if self._converter_sender_untrusted(mail):
            plan.author_id, plan.author_new_contact = 0, ""
        return result

    @api.model
    def _converter_addresses_to_create(self, mail, source):
        addresses = super()._converter_addresses_to_create(mail, source)
        return self._converter_without_untrusted_sender(mail, addresses)

    @api.model
    def _converter_ticket_sender_to_create(self, mail, source, plan):
        addresses = super()._converter_ticket_sender_to_create(mail, source, plan)
        return self._converter_without_untrusted_sender(mail, addresses)

    @api.model
    def _converter_without_untrusted_sender(self, mail, addresses):
        """``addresses`` without the From address of an unauthenticated sender (no contact)."""
        if not self._converter_sender_untrusted(mail):
            return addresses
        return [a for a in addresses if a.role != "from"]

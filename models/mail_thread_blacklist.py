from odoo import api, models

# What "records of this address with bounces" depends on.
_BOUNCE_FIELDS = ("message_bounce", "email", "email_normalized", "active", "company_id")


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

    @api.model
    def _converter_memo_search(self, memo, domain, offset, limit, order):
        # Odoo resets bounce counters for every email received (_routing_reset_bounce):
        # one search per model an email; a wave asks once for all its addresses.
        email = self._converter_asked_bounced(domain)
        wave_emails = memo.scope.get("partner_emails") or set()
        if email is None or email not in wave_emails or offset or limit is not None or order:
            return super()._converter_memo_search(memo, domain, offset, limit, order)
        by_email = memo.answer(
            self._name,
            ("bounced", self._converter_memo_env_key()),
            lambda: self._converter_ids_by(
                [("message_bounce", ">", 0), ("email_normalized", "in", sorted(wave_emails))],
                "email_normalized",
            ),
            fields=_BOUNCE_FIELDS,
        )
        return by_email.get(email, [])

    @api.model
    def _converter_asked_bounced(self, domain):
        """The address of ``[("message_bounce", ">", 0), ("email_normalized", "=", x)]``."""
        conditions = self._converter_conditions(domain, 2)
        if not conditions or conditions[0] != ("message_bounce", ">", 0):
            return None
        field, operator, email = conditions[1]
        if (field, operator) != ("email_normalized", "=") or not isinstance(email, str):
            return None
        return email

    def _converter_memo_written(self, memo, vals):
        # A reset counter (the gateway's, for each email received) takes these records out
        # of the wave's answers; other writes drop them as usual.
        if set(vals) != {"message_bounce"} or vals["message_bounce"] != 0:
            return super()._converter_memo_written(memo, vals)
        reset = set(self.ids)
        memo.revise(
            self._name,
            lambda key: key[0] == "bounced",
            lambda by_email: {
                email: [i for i in ids if i not in reset] for email, ids in by_email.items()
            },
        )
        return None

"""Private emails: whether an imported email is private (plan), and making it so (apply).

The planner and the pipeline both inherit this model.
"""

from markupsafe import Markup

from odoo import api, models

from ..tools import addresses, privacy
from ..tools.prefetch import prefetch_of

# The flags of a contact or lead that make the mail imported for it private.
PRIVACY_FLAGS = [
    ("mail_converter_import_private", "=", True),
    ("mail_converter_all_private", "=", True),
]


class MailConverterPrivacy(models.AbstractModel):
    _name = "mail.converter.privacy"
    _description = "Mail converter: private emails"

    @api.model
    def _plan_privacy(self, mail, source, plan):
        """Whether the imported email is private: a rule (``_plan_rules``), a ``Sensitivity``
        header, or *Imported/All emails private* on a record it concerns or is posted on.

        A private email that opens a record does not copy its text into the record's
        description, which everyone who sees the record reads.
        """
        reasons = [self._converter_sensitivity_reason(mail)]
        reasons += self._converter_flag_privacy_reasons(plan)
        for reason in filter(None, reasons):
            plan.private = True
            if reason not in plan.private_reasons:
                plan.private_reasons.append(reason)
        if plan.private and plan.route and plan.route.creates:
            plan.route.values.update(self._converter_private_record_values(plan.route.model, mail))
        if plan.private and plan.activity:
            plan.activity["summary"] = self._converter_private_title(mail)

    @api.model
    def _converter_sensitivity_reason(self, mail):
        """``Sensitivity: Private/Personal/Company-Confidential`` makes an email private."""
        value = privacy.private_sensitivity(mail.summary.headers.get("sensitivity"))
        return self.env._("Sensitivity: %(value)s header", value=value) if value else ""

    @api.model
    def _converter_flag_privacy_reasons(self, plan):
        """Why the records the email concerns or is posted on make it private (their flags,
        or their company's), in the order of the plan's links."""
        partner_ids = {link.res_id for link in plan.links if link.model == "res.partner"}
        lead_ids = {link.res_id for link in plan.links if link.model == "crm.lead"}
        route = plan.route
        # Planning and applying ask the same of the same records: once is enough.
        checked = (
            route and (route.model, route.res_id),
            frozenset(partner_ids),
            frozenset(lead_ids),
        )
        if plan.flag_reasons and plan.flag_reasons[0] == checked:
            return list(plan.flag_reasons[1])
        holders = []
        if route and route.res_id and route.model in self.env:
            record = self.env[route.model].sudo().browse(route.res_id).exists()
            if record and hasattr(record, "_mail_converter_privacy_holders"):
                holders += record._mail_converter_privacy_holders()
        if partner_ids - {0}:
            holders += self._converter_flag_holders(partner_ids - {0})
        if lead_ids - {0}:
            holders += (
                self.env["crm.lead"]
                .sudo()
                .search([("id", "in", list(lead_ids - {0})), "|", *PRIVACY_FLAGS], order="id")
            )
        reasons = []
        for holder in holders:
            company = holder.commercial_partner_id if holder._name == "res.partner" else holder
            for record in (holder, company):
                reason = self._converter_flag_privacy_reason(record)
                if reason and reason not in reasons:
                    reasons.append(reason)
        plan.flag_reasons = (checked, tuple(reasons))
        return reasons

    @api.model
    def _converter_flag_holders(self, partner_ids):
        """The contacts among ``partner_ids`` whose flags, or their company's, make mail
        private, in id order; from the planning round's prefetch when it read them."""
        prefetch = prefetch_of(self.env.context)
        Partner = self.env["res.partner"].sudo()
        if prefetch is not None and prefetch.knows("flag_holder", partner_ids):
            return Partner.browse(sorted(i for i in partner_ids if prefetch.get("flag_holder", i)))
        return Partner.search(self._converter_flag_holder_domain(partner_ids), order="id")

    @api.model
    def _converter_flag_holder_domain(self, partner_ids):
        # Rarely any row: a contact is covered by its company's flags too.
        return (
            [("id", "in", list(partner_ids))]
            + ["|", "|", "|"]
            + PRIVACY_FLAGS
            + [("commercial_partner_id." + f, op, v) for f, op, v in PRIVACY_FLAGS]
        )

    @api.model
    def _converter_prefetch_flag_holders(self, partner_ids, prefetch):
        """Read, in one query, which of ``partner_ids`` (the contacts a planning round's
        emails matched) are flag holders, for :meth:`_converter_flag_holders`."""
        partner_ids = {i for i in partner_ids if i}
        if not partner_ids:
            return
        found = (
            self.env["res.partner"].sudo().search(self._converter_flag_holder_domain(partner_ids))
        )
        prefetch.fill("flag_holder", partner_ids, dict.fromkeys(found.ids, True))

    @api.model
    def _converter_flag_privacy_reason(self, record):
        """Why ``record``'s own flags make imported mail private, or ``""``."""
        if record.mail_converter_all_private:
            return self.env._("%(record)s: all emails private", record=record.display_name)
        if record.mail_converter_import_private:
            return self.env._("%(record)s: imported emails private", record=record.display_name)
        return ""

    @api.model
    def _converter_private_record_values(self, model, mail):
        """Values of a record a private email creates: a neutral name instead of its subject,
        and no copy of its text in the description."""
        fields_ = self.env[model]._fields
        values = {}
        if "name" in fields_ and model != "res.partner":
            values["name"] = self._converter_private_title(mail)
        if "description" in fields_:
            text = self.env._(
                "Private email: its text is in the chatter, for its author and the responsible."
            )
            values["description"] = Markup("<p>%s</p>") % text
        return values

    @api.model
    def _converter_private_title(self, mail):
        """What a private email's record or activity is called instead of its subject."""
        return self.env._(
            "Private email from %(sender)s", sender=self._converter_sender_label(mail.summary)
        )

    @api.model
    def _converter_sender_label(self, summary):
        """The sender's name as written, else its address."""
        found = addresses.parse_header(summary.email_from or "", "from", limit=1)
        return (found and (found[0].name or found[0].email)) or self.env._("an unknown sender")

    @api.model
    def _converter_summary_private(self, summary):
        """Whether the email is private before it is even read (the log row's flag): its
        ``Sensitivity`` header, or a flagged contact (or its company) among From, To and Cc."""
        if privacy.private_sensitivity(summary.headers.get("sensitivity")):
            return True
        emails = self._converter_summary_emails(summary)
        if not emails:
            return False
        prefetch = prefetch_of(self.env.context)
        if prefetch is not None and prefetch.knows("flagged", emails):
            return any(prefetch.get("flagged", email) for email in emails)
        return bool(self._converter_flagged_emails(emails))

    @api.model
    def _converter_summary_emails(self, summary):
        """The addresses of From, To and Cc, as the log row's privacy flag looks them up."""
        # The hostile-header-safe parser: Python's own recurses on crafted comments.
        return {
            address.email
            for address in addresses.collect(
                {name: summary.address_headers.get(name, ()) for name in ("from", "to", "cc")}
            )
        }

    @api.model
    def _converter_flagged_emails(self, emails):
        """Those of ``emails`` held by a contact flagged private, or whose company is (one query;
        archived contacts count)."""
        if not emails:
            return set()
        partners = (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search_fetch(
                [("email_normalized", "in", list(emails))]
                + ["|", "|", "|"]
                + PRIVACY_FLAGS
                + [("commercial_partner_id." + f, op, v) for f, op, v in PRIVACY_FLAGS],
                ["email_normalized"],
            )
        )
        return set(partners.mapped("email_normalized")) & set(emails)

    @api.model
    def _converter_prefetch_flagged(self, summaries, prefetch):
        """Look the privacy flags of every address of ``summaries`` up at once, for
        :meth:`_converter_summary_private` to read from ``prefetch``."""
        emails = set()
        for summary in summaries:
            emails |= self._converter_summary_emails(summary)
        flagged = self._converter_flagged_emails(emails)
        prefetch.fill("flagged", emails, dict.fromkeys(flagged, True))

    @api.model
    def _converter_log_private(self, plan, log):
        """The log row's flag once the email is planned: what its row already said, the plan's
        verdict, or the flags of the records it concerns (also when no privacy stage ran)."""
        return bool(log.private or plan.private or self._converter_flag_privacy_reasons(plan))

    @api.model
    def _privacy_context(self, plan, mail):
        """``((message_id, reason),)`` for the email the plan makes private: ``mail.thread``
        creates it private (see ``_message_create``)."""
        if not plan.private:
            return ()
        reason = "; ".join(plan.private_reasons) or self.env._("Private")
        return ((mail.msg_dict.get("message_id"), reason),)

    @api.model
    def _apply_privacy(self, plan, message):
        """Make sure the stored email is private (posted by another path than message_post)."""
        if message and not message.mail_converter_private:
            message.write(
                {
                    "mail_converter_private": True,
                    "mail_converter_private_reason": "; ".join(plan.private_reasons) or False,
                }
            )

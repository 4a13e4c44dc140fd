"""Who belongs to a record: whose reply headers and ID tags are trusted.

Override :meth:`_converter_sender_belongs` to trust more or fewer people, or
:meth:`_converter_record_customer` to say who a record's customer is.
"""

from odoo import api, models

from ..tools import addresses
from ..tools.run_cache import RunCache


class MailConverterTrust(models.AbstractModel):
    _name = "mail.converter.trust"
    _description = "Mail converter: who belongs to a record"

    @api.model
    def _converter_sender(self, mail):
        """The email's normalised From address, or ``""``."""
        return next((a.email for a in mail.matches.addresses if a.role == "from"), "")

    @api.model
    def _converter_aliases(self, emails, source):
        """Which of ``emails`` are Odoo's own aliases, asked once per address and run."""
        cache = RunCache.of(source)
        return cache.aliases(emails, self.env["mail.alias.domain"].sudo()._find_aliases)

    @api.model
    def _converter_in_company(self, record, source):
        """Whether ``record`` may receive mail of the mailbox's company (shared records may)."""
        if not source.company_id or "company_id" not in record._fields:
            return True
        company = record.sudo().company_id
        return not company or company.id == source.company_id

    @api.model
    def _converter_sender_belongs(self, record, mail, source):
        """Whether the sender of ``mail`` may file it on ``record`` by an ID tag or a reply:
        the record's customer or contact (or another contact of the customer's company), a
        follower, its responsible, staff who may read it or who send from an outbound
        folder, or (mailbox option) an address of the customer's company domain. Override
        to trust more or fewer people."""
        sender = self._converter_sender(mail)
        if not sender:
            return False
        record = record.sudo()
        if sender in self._converter_record_emails(record):
            return True
        for link in mail.matches.links:
            if link.model == "res.users" and link.email == sender:
                if mail.origin.direction == "outbound":
                    return True  # our staff's sent mail, found in a Sent folder
                user = self.env["res.users"].sudo().browse(link.res_id)
                if record.with_user(user).has_access("read"):
                    return True
        if self._converter_customer_colleague(record, sender):
            return True
        if source.trust_company_domain:
            domain = addresses.email_domain(sender)
            return bool(domain) and domain in self._converter_record_domains(record)
        return False

    @api.model
    def _converter_record_customer(self, record):
        """The contact ``record`` is for: the contact itself, or its ``partner_id`` (a ticket's or
        a lead's customer); an empty recordset when it has none. Override for other models."""
        if record._name == "res.partner":
            return record.sudo()
        field = record._fields.get("partner_id")
        if field is not None and field.comodel_name == "res.partner":
            return record.sudo().partner_id
        return self.env["res.partner"].sudo()

    @api.model
    def _converter_customer_colleague(self, record, sender):
        """Whether ``sender`` is a contact of the company of ``record``'s customer."""
        company = self._converter_record_customer(record).commercial_partner_id
        return bool(
            company
            and self.env["res.partner"]
            .sudo()
            .search_count(
                # A contact the converter made from one email is nobody's colleague.
                [
                    ("email_normalized", "=", sender),
                    ("commercial_partner_id", "=", company.id),
                    ("mail_converter_created", "=", False),
                ],
                limit=1,
            )
        )

    @api.model
    def _converter_record_people(self, record):
        """The contacts who belong to ``record``: its customer (and the customer's company),
        its followers and the partners of its responsible users."""
        customer = self._converter_record_customer(record)
        partners = customer | customer.commercial_partner_id
        if "message_partner_ids" in record._fields:
            partners |= record.message_partner_ids
        for name in ("user_id", "user_ids"):
            field = record._fields.get(name)
            if field and field.comodel_name == "res.users":
                partners |= record[name].partner_id
        return partners

    @api.model
    def _converter_record_emails(self, record):
        """Normalised addresses that belong to ``record``: its people's, and the address the
        record itself holds (a lead's or ticket's customer email)."""
        emails = {p.email_normalized for p in self._converter_record_people(record)}
        for name in ("email_from", "partner_email", "email"):
            if name in record._fields and record._fields[name].type == "char":
                emails.add(addresses.normalize_email(record[name]))
        emails.discard(False)
        emails.discard("")
        return emails

    @api.model
    def _converter_record_domains(self, record):
        """Email domains of ``record``'s customer: its addresses and its company's website;
        free-mail domains never count."""
        customer = self._converter_record_customer(record)
        partners = customer.commercial_partner_id | customer
        domains = {addresses.email_domain(p.email_normalized or "") for p in partners}
        domains |= {addresses.website_domain(p.website) for p in partners if p.website}
        for name in ("email_from", "partner_email"):
            if name in record._fields and record._fields[name].type == "char":
                domains.add(addresses.email_domain(addresses.normalize_email(record[name])))
        return {d for d in domains if d and not addresses.is_freemail(d)}

    @api.model
    def _converter_sender_was_recipient(self, replied, mail):
        """Whether Odoo sent ``replied`` to the sender (or received it with the sender in To/Cc),
        or the sender wrote it: answering it is part of that conversation."""
        sender = self._converter_sender(mail)
        if not sender or not replied:
            return False
        replied = replied.sudo()
        # The message's own columns first; its recipients' contacts take queries.
        if addresses.normalize_email(replied.email_from) == sender:
            return True
        copied = ", ".join(
            filter(
                None,
                [replied.incoming_email_to, replied.incoming_email_cc, replied.outgoing_email_to],
            )
        )
        if any(a.email == sender for a in addresses.parse_header(copied)):
            return True
        partners = replied.author_id | replied.partner_ids | replied.notification_ids.res_partner_id
        return sender in set(partners.mapped("email_normalized"))

    @api.model
    def _converter_untrusted_note(self, record, mail, what):
        """The note saying that a tag or reply header was not trusted, for the log and simulator."""
        return self.env._(
            "%(what)s names %(record)s, but %(email)s does not belong to it: handled as a new email",
            what=what,
            record=record.sudo().display_name,
            email=self._converter_sender(mail) or self.env._("the sender"),
        )

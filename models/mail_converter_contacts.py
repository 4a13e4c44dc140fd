"""Contacts created for unknown addresses: which ones (plan) and creating them (apply)."""

from odoo import api, models
from odoo.fields import Domain

from ..tools import addresses, bans, matcher
from ..tools.addresses import full_name
from ..tools.plan import (
    NewContact,
)
from ..tools.prefetch import prefetch_of


class MailConverterContacts(models.AbstractModel):
    _name = "mail.converter.contacts"
    _description = "Mail converter: contacts created from emails"

    @api.model
    def _plan_contacts(self, mail, source, plan):
        """Contacts to create for unknown addresses, by the mailbox's options, and for the unknown
        sender of a new ticket; the email is filed on them."""
        wanted = self._converter_addresses_to_create(mail, source)
        wanted += [
            a
            for a in self._converter_ticket_sender_to_create(mail, source, plan)
            if a.email not in {w.email for w in wanted}
        ]
        for address in wanted:
            self._converter_plan_new_contact(address, source, plan)

    @api.model
    def _converter_plan_new_contact(self, address, source, plan):
        """Plan a contact for ``address``, joined to the company of its domain; the email is
        filed on both."""
        company = (
            self._converter_company_for_domain(address.domain, source)
            if source.link_company_by_domain
            else self.env["res.partner"]
        )
        plan.contacts.append(NewContact(address, company.id, company.name or ""))
        plan.links.append(
            matcher.Link(
                "res.partner",
                0,
                address.email,
                address.role,
                self.env._("New contact for %(email)s", email=address.email),
            )
        )
        if company:
            plan.links.append(
                matcher.Link(
                    "res.partner",
                    company.id,
                    address.email,
                    address.role,
                    self.env._("Company of %(email)s (same domain)", email=address.email),
                    via_company=True,
                )
            )

    # -- Cc recipients as followers --------------------------------------------------------
    @api.model
    def _plan_cc_followers(self, mail, source, plan):
        """Cc recipients of received mail follow its new or existing ticket or lead, by the
        mailbox's *Add Cc recipients as followers*; unknown ones become contacts first with
        *known and new contacts*."""
        route = plan.route
        if (
            source.cc_followers == "no"
            or plan.state != "done"
            or not route
            or route.model not in ("helpdesk.ticket", "crm.lead")
            or mail.origin.direction != "inbound"
        ):
            return
        cc = [a for a in mail.matches.addresses if a.role == "cc"]
        allowed = self._converter_cc_allowed([a.email for a in cc], source, plan)
        known = {
            link.email: link.res_id
            for link in plan.links
            if link.model == "res.partner" and link.res_id and not link.via_company
        }
        planned = {new.address.email for new in plan.contacts}
        partners, new = [], []
        for address in cc:
            if address.email not in allowed:
                continue
            if address.email in known:
                partners.append(known[address.email])
            elif address.email in planned:
                new.append(address.email)
            elif source.cc_followers == "all":
                self._converter_plan_new_contact(address, source, plan)
                new.append(address.email)
        partners = self._converter_not_following(route, partners)
        plan.cc_follower_ids = list(dict.fromkeys(partners))
        plan.cc_follower_new = list(dict.fromkeys(new))
        if plan.cc_follower_ids or plan.cc_follower_new:
            names = self.env["res.partner"].sudo().browse(plan.cc_follower_ids).mapped("email")
            plan.explain(
                self.env._(
                    "Cc recipients who become followers: %(emails)s",
                    emails=", ".join(filter(None, names + plan.cc_follower_new)),
                )
            )

    @api.model
    def _converter_cc_allowed(self, emails, source, plan):
        """Which Cc ``emails`` may become followers: never internal users, our own or excluded
        addresses, aliases or banned senders; override to add a check."""
        users = {link.email for link in plan.links if link.model == "res.users"}
        never = users | source.own_addresses | source.mailbox_addresses | source.excluded_addresses
        wanted = [e for e in emails if e and e not in never and not bans.find_ban(source.bans, e)]
        aliases = set(self._converter_aliases(wanted, source))
        return {e for e in wanted if e not in aliases}

    @api.model
    def _converter_not_following(self, route, partner_ids):
        """Of ``partner_ids``, those not yet following the route's existing record."""
        if not route.res_id or not partner_ids:
            return partner_ids
        record = self.env[route.model].sudo().browse(route.res_id)
        following = set(record.message_partner_ids.ids)
        return [pid for pid in partner_ids if pid not in following]

    @api.model
    def _apply_cc_followers(self, plan, record, new_contacts):
        """Subscribe the Cc recipients the plan made followers (with the contacts just created)."""
        partner_ids = list(plan.cc_follower_ids)
        partner_ids += [new_contacts[e].id for e in plan.cc_follower_new if e in new_contacts]
        if partner_ids and record._name in ("helpdesk.ticket", "crm.lead"):
            record.sudo().message_subscribe(partner_ids=partner_ids)

    @api.model
    def _converter_addresses_to_create(self, mail, source):
        """Addresses that should become contacts, by the mailbox's options."""
        matches = mail.matches
        known = {link.email for link in matches.links if link.model in ("res.partner", "res.users")}
        found = matches.addresses
        if mail.origin.direction == "outbound":
            if not source.create_outbound_contacts:
                return []
            wanted = [a for a in found if a.role in ("to", "cc")]
        else:
            recipients = {a.email for a in found if a.role != "from"}
            if not recipients & source.contact_creation_addresses:
                return []
            wanted = [a for a in found if a.role == "from"]
        skip = known | source.contact_creation_addresses | source.own_addresses
        wanted = [a for a in wanted if a.email not in skip]
        aliases = set(self._converter_aliases([a.email for a in wanted], source))
        return [a for a in wanted if a.email not in aliases]

    @api.model
    def _converter_company_for_domain(self, domain, source=None):
        """The company whose website is on ``domain``; free-mail domains never match, nor
        companies of another company than the mailbox's (multi-company)."""
        if not domain or addresses.is_freemail(domain):
            return self.env["res.partner"]
        prefetch = prefetch_of(self.env.context)
        if prefetch is not None and prefetch.knows("company_domain", [domain]):
            return self.env["res.partner"].sudo().browse(prefetch.get("company_domain", domain))
        scope = self._converter_company_scope([("website", "ilike", domain)], source)
        companies = self.env["res.partner"].sudo().search(scope, limit=20, order="id")
        return companies.filtered(lambda c: addresses.website_domain(c.website) == domain)[:1]

    @api.model
    def _converter_company_scope(self, website_domain, source):
        """The domain of companies a website condition may find for the mailbox."""
        scope = [("is_company", "=", True), *website_domain]
        if source and source.company_id:
            scope.append(("company_id", "in", [source.company_id, False]))
        return scope

    @api.model
    def _converter_prefetch_companies(self, domains, source, prefetch):
        """Find the companies of all ``domains`` in one query, for
        :meth:`_converter_company_for_domain` to find in ``prefetch``. A domain whose
        website search would go past its 20 first candidates is left to ask alone."""
        domains = sorted({d for d in domains if d and not addresses.is_freemail(d)})
        if not domains or not source.link_company_by_domain:
            return
        websites = Domain.OR([[("website", "ilike", d)] for d in domains])
        companies = (
            self.env["res.partner"]
            .sudo()
            .search_fetch(self._converter_company_scope(websites, source), ["website"], order="id")
        )
        answers = {}
        for domain in domains:
            found = [c for c in companies if domain in (c.website or "").lower()]
            first = next(
                (i for i, c in enumerate(found) if addresses.website_domain(c.website) == domain),
                None,
            )
            if first is None or first < 20:  # else past the 20 a search of its own reads
                answers[domain] = found[first].ids if first is not None else []
        prefetch.fill("company_domain", list(answers), answers)

    @api.model
    def _converter_ticket_sender_to_create(self, mail, source, plan):
        """The sender of received mail that opens a ticket becomes its contact when unknown."""
        route = plan.route
        if (
            not route
            or not route.creates
            or route.model != "helpdesk.ticket"
            or mail.origin.direction != "inbound"
            or mail.msg_dict.get("author_id")
        ):
            return []
        if source.only_linked and not self._converter_linked_beyond_users(plan):
            return []  # "Only import linked emails" discards it next; no contact for it
        known = {link.email for link in plan.links if link.model in ("res.partner", "res.users")}
        skip = known | source.own_addresses | source.mailbox_addresses
        wanted = [a for a in mail.matches.addresses if a.role == "from" and a.email not in skip]
        aliases = set(self._converter_aliases([a.email for a in wanted], source))
        return [a for a in wanted if a.email not in aliases]

    @api.model
    def _apply_contacts(self, plan, mail, source):
        """Create the plan's new contacts; return them by address."""
        if not plan.contacts:
            return {}
        # One create for all, and no "contact created" note: the email itself is their history.
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_context(mail_create_nolog=True, tracking_disable=True)
        )
        # Another worker creating a contact for the same address makes this email retry at once.
        self.env["mail.converter.contact.claim"].sudo()._converter_claim(
            {new.address.email.lower() for new in plan.contacts}
        )
        partners = Partner.create([self._contact_values(new, source) for new in plan.contacts])
        return dict(zip((new.address.email for new in plan.contacts), partners, strict=True))

    @api.model
    def _contact_values(self, new_contact, source):
        """Values of a contact created from an address; override to add tags, language, ..."""
        address = new_contact.address
        values = {
            "name": full_name(address.name, address.email),
            "email": address.email,
            "mail_converter_created": True,
            # The mailbox's company's contact: another company's people do not see it.
            "company_id": source.company_id or False,
        }
        if new_contact.company_id:
            values["parent_id"] = new_contact.company_id
        return values

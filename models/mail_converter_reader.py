"""Read an email: open a PEC envelope, parse it as Odoo's gateway does, match its addresses.

What this model returns (:class:`tools.plan.Mail`) is all the planner reads;
it writes nothing.
"""

from odoo import api, models
from odoo.tools import SQL

from ..tools import addresses, matcher, mime, pec, privacy
from ..tools.plan import (
    Mail,
)
from ..tools.prefetch import prefetch_of
from ..tools.run_cache import RunCache


class MailConverterReader(models.AbstractModel):
    _name = "mail.converter.reader"
    _description = "Mail converter: reads, parses and matches an email"

    @api.model
    def _converter_read(self, raw, source, origin, summary=None):
        """Parse ``raw`` (bytes) and match its addresses: the :class:`Mail` every stage reads.

        On a certified mailbox (PEC) it is the message inside the envelope; the
        envelope and its ``daticert.xml`` become attachments of that message.
        """
        size = max(origin.size, len(raw))
        envelope = self._converter_unwrap(raw, source)
        if envelope is not None and envelope.inner:
            raw = envelope.inner
        summary = summary or mime.summarize(raw)
        # Security: headers are cut to their limits before Odoo's parser decodes them.
        raw, limits = mime.cap_headers(raw)
        # ... and address headers the standard library's parser would choke on are rewritten.
        raw, rewritten = addresses.safe_headers(raw)
        message = self._converter_parse_message(raw)
        repairs = limits + rewritten + mime.repair_charsets(message)
        msg_dict = self._converter_mail_thread(source).message_parse(
            message, save_original=source.save_original
        )
        # Conversations: winmail.dat unpacked, inline images, quotes folded, invitations summarised.
        self.env["mail.converter.content"]._converter_enrich(message, msg_dict, source)
        if source.strip_attachments:
            msg_dict.pop("attachments", None)
        if envelope is not None and envelope.inner:
            # The legal envelope is kept even when the mailbox drops attachments.
            self._converter_keep_envelope(msg_dict, envelope)
        return Mail(
            raw=raw,
            summary=summary,
            message=message,
            msg_dict=msg_dict,
            matches=self._converter_match(summary, source),
            origin=origin,
            repairs=repairs,
            pec=envelope,
            size=size,
            sender_auth=self.env["mail.converter.sender.auth"]._converter_sender_auth(
                message, source, raw
            ),
        )

    @api.model
    def _converter_unwrap(self, raw, source):
        """The PEC envelope of ``raw`` (:class:`tools.pec.Pec`) on a certified mailbox, else ``None``."""
        if not source.is_pec:
            return None
        return pec.unwrap(raw)

    @api.model
    def _converter_keep_envelope(self, msg_dict, envelope):
        """Attach the PEC envelope and ``daticert.xml`` to the certified message."""
        Attachment = self.env["mail.thread"]._Attachment
        attachments = list(msg_dict.get("attachments") or [])
        attachments.append(Attachment("pec-envelope.eml", envelope.envelope, {}))
        if envelope.daticert:
            attachments.append(Attachment(pec.DATICERT_NAME, envelope.daticert, {}))
        msg_dict["attachments"] = attachments

    @api.model
    def _converter_parse_message(self, raw):
        """Build an :class:`email.message.EmailMessage` as Odoo's gateway does (``email.policy.SMTP``;
        each header text parsed once, see :func:`tools.mime.parse_message`)."""
        return mime.parse_message(raw)

    @api.model
    def _converter_mail_thread(self, source):
        """The ``mail.thread`` environment used for parsing and posting, in the mailbox's company
        (new records get its company, team and sequence)."""
        MailThread = self.env["mail.thread"]
        if source.company_id:
            MailThread = MailThread.with_company(source.company_id)
        return MailThread.with_context(
            default_fetchmail_server_id=source.server_id,
            # helpdesk workflow: the ticket remembers its mailbox (replies, spam, the marker)
            default_mail_converter_server_id=source.server_id,
            mail_converter_importing=privacy.IMPORTING,
            # the run's answers for Odoo's own alias and field look-ups (tools.run_cache)
            mail_converter_run_cache=RunCache.of(source),
        )

    @api.model
    def _converter_match(self, summary, source):
        """Find every record the email's addresses belong to (one query)."""
        found = addresses.collect(summary.address_headers)
        candidates, companies = self._converter_match_candidates([a.email for a in found], source)
        result = matcher.match(found, candidates, companies)
        result.addresses = found
        return result

    @api.model
    def _converter_match_candidates(self, emails, source):
        """Contacts, leads and internal users holding ``emails``, with each contact's company.

        One indexed query whatever the number of addresses; records are read
        as the system does, the links are what users then see through access rules.
        Only records of the mailbox's company (or of none) and users allowed in it match.
        """
        if not emails:
            return [], {}
        prefetch = prefetch_of(self.env.context)
        if prefetch is not None and prefetch.knows("match", emails):
            # Each row depends on its own address only: the batch's rows for these addresses.
            rows = [
                row for email in dict.fromkeys(emails) for row in prefetch.get("match", email) or ()
            ]
            rows.sort(key=lambda row: (row[0], row[1]))
            return self._converter_match_rows(rows)
        return self._converter_match_rows(self._converter_match_query(emails, source))

    @api.model
    def _converter_prefetch_match(self, emails, source, prefetch):
        """Read the candidates of all ``emails`` in one query, for
        :meth:`_converter_match_candidates` to find in ``prefetch``."""
        emails = list(dict.fromkeys(emails))
        rows = {}
        for row in self._converter_match_query(emails, source):
            rows.setdefault(row[2], []).append(row)
        prefetch.fill("match", emails, rows)

    @api.model
    def _converter_match_query(self, emails, source):
        """The rows of the match query for ``emails``: ``(model, id, address, name, exclude,
        company id, company name, company exclude)``, ordered by model and id."""
        self.env["res.partner"].flush_model(
            [
                "email_normalized",
                "active",
                "name",
                "mail_converter_exclude",
                "commercial_partner_id",
                "company_id",
            ]
        )
        self.env["crm.lead"].flush_model(
            ["email_normalized", "active", "mail_converter_exclude", "company_id"]
        )
        self.env["res.users"].flush_model(["active", "share", "partner_id"])
        self.env.cr.execute(
            SQL(
                """
            SELECT 'res.partner', p.id, p.email_normalized, p.name, p.mail_converter_exclude,
                   c.id, c.name, c.mail_converter_exclude
              FROM res_partner p
         LEFT JOIN res_partner c ON c.id = p.commercial_partner_id AND c.id != p.id AND c.active
             WHERE p.active AND p.email_normalized = ANY(%(emails)s)
               AND (%(company)s::int IS NULL OR p.company_id IS NULL OR p.company_id = %(company)s)
         UNION ALL
            SELECT 'crm.lead', l.id, l.email_normalized,
                   COALESCE(NULLIF(l.contact_name, ''), NULLIF(l.partner_name, ''), l.name),
                   l.mail_converter_exclude, NULL, NULL, NULL
              FROM crm_lead l
             WHERE l.active AND l.email_normalized = ANY(%(emails)s)
               AND (%(company)s::int IS NULL OR l.company_id IS NULL OR l.company_id = %(company)s)
         UNION ALL
            SELECT 'res.users', u.id, p.email_normalized, p.name, FALSE, NULL, NULL, NULL
              FROM res_users u JOIN res_partner p ON p.id = u.partner_id
             WHERE u.active AND u.share IS NOT TRUE AND p.email_normalized = ANY(%(emails)s)
               AND (%(company)s::int IS NULL OR EXISTS (
                    SELECT 1 FROM res_company_users_rel r WHERE r.user_id = u.id AND r.cid = %(company)s))
          ORDER BY 1, 2
        """,
                emails=list(emails),
                company=source.company_id or None,
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _converter_match_rows(self, rows):
        """Candidates and companies from rows of :meth:`_converter_match_query`."""
        candidates, companies = [], {}
        for (
            model,
            res_id,
            address,
            name,
            exclude,
            company_id,
            company_name,
            company_exclude,
        ) in rows:
            candidates.append(matcher.Candidate(model, res_id, address, name or "", bool(exclude)))
            if company_id:
                companies[res_id] = (company_id, company_name, bool(company_exclude))
        return candidates, companies

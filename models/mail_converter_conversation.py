"""Existing conversations: reply headers and ID tags file an email on the record
they name, when its sender belongs to it (``mail.converter.trust``).
"""

from odoo import api, models
from odoo.tools.mail import unfold_references

from ..tools import matcher, safe_regex
from ..tools.plan import (
    Route,
)
from ..tools.prefetch import prefetch_of


class MailConverterConversation(models.AbstractModel):
    _name = "mail.converter.conversation"
    _description = "Mail converter: existing conversations"

    @api.model
    def _plan_reply(self, mail, source, plan):
        """A reply to a message Odoo knows (In-Reply-To, References) continues its conversation,
        when its sender belongs to that conversation; else it is handled as a new email."""
        replied, record = self._converter_replied(mail, source)
        if not record:
            return
        if not (
            self._converter_sender_was_recipient(replied, mail)
            or self._converter_sender_belongs(record, mail, source)
        ):
            plan.note(self._converter_untrusted_note(record, mail, self.env._("Reply header")))
            return
        plan.route = Route(record._name, record.id, why=self.env._("Continues its conversation"))
        plan.followup = True

    @api.model
    def _converter_replied_message(self, mail, source):
        """The newest message Odoo holds among those ``mail`` replies to, on a record of the
        mailbox's company; an empty recordset when there is none. (Planning asks
        :meth:`_converter_replied`, which also gives the record: override that one.)"""
        return self._converter_replied(mail, source)[0]

    @api.model
    def _converter_replied(self, mail, source):
        """``(message, record)``: :meth:`_converter_replied_message` and the record holding it
        (:meth:`_converter_replied_record`, asked once), or an empty message and ``None``."""
        msg_dict = mail.msg_dict
        references = self._converter_reply_references(
            msg_dict.get("references"), msg_dict.get("in_reply_to")
        )
        Message = self.env["mail.message"].sudo()
        if not references:
            return Message, None
        # The same email may sit in two companies' records: the first of the mailbox's company.
        for replied in self._converter_replied_candidates(references):
            record = self._converter_replied_record(mail, source, replied)
            if record:
                return replied, record
        return Message, None

    @api.model
    def _converter_reply_references(self, references, in_reply_to):
        """The Message-IDs an email answers (its References, else its In-Reply-To)."""
        found = unfold_references(references or in_reply_to or "")
        # Newer ids are appended (RFC 5322 3.6.4); Odoo looks at the last 32 too.
        return [ref.strip() for ref in found if "reply_to" not in ref][-32:]

    @api.model
    def _converter_replied_candidates(self, references):
        """The ten newest messages on a record among ``references``; from the planning
        round's prefetch when it read them all."""
        Message = self.env["mail.message"].sudo()
        prefetch = prefetch_of(self.env.context)
        if prefetch is not None and prefetch.knows("replied", references):
            ids = {i for ref in references for i in prefetch.get("replied", ref) or ()}
            return Message.browse(sorted(ids, reverse=True)[:10])
        return Message.search(self._converter_replied_domain(references), limit=10, order="id desc")

    @api.model
    def _converter_replied_domain(self, references):
        return [("message_id", "in", references), ("model", "!=", False), ("res_id", "!=", False)]

    @api.model
    def _converter_prefetch_replied(self, summaries, prefetch):
        """Read, in one query, the messages on a record that the emails of ``summaries`` (a
        planning round) answer, for :meth:`_converter_replied_candidates`."""
        references = list(
            dict.fromkeys(
                ref
                for summary in summaries
                for ref in self._converter_reply_references(
                    summary.headers.get("references"), summary.headers.get("in-reply-to")
                )
            )
        )
        if not references:
            return
        found = (
            self.env["mail.message"]
            .sudo()
            ._converter_ids_by(
                self._converter_replied_domain(references), "message_id", order="id desc"
            )
        )
        # An email's ten newest are among its references' ten newest.
        found = {message_id: ids[:10] for message_id, ids in found.items()}
        prefetch.fill("replied", references, found)

    @api.model
    def _converter_replied_record(self, mail, source, replied):
        """The record holding ``replied`` (a message), when it takes replies and belongs to the
        mailbox's company, else ``None``."""
        if not replied or replied.model not in self.env:
            return None
        record = self.env[replied.model].sudo().browse(replied.res_id).exists()
        if not record or not hasattr(record, "message_update"):
            return None
        return record if self._converter_in_company(record, source) else None

    @api.model
    def _plan_tags(self, mail, source, plan):
        """File the email on records named by ID tags; the first receives it unless a reply
        header already chose its conversation. Only tags of records the sender belongs to
        count (:meth:`_converter_sender_belongs`); the others are noted."""
        tagged = self.env["mail.converter.tag"]._find_records(
            source.tag_patterns,
            mail.msg_dict.get("subject"),
            str(mail.msg_dict.get("body") or ""),
            company_id=source.company_id or None,
        )
        trusted = []
        for name, record in tagged:
            if self._converter_sender_belongs(record, mail, source):
                trusted.append((name, record))
            else:
                plan.note(
                    self._converter_untrusted_note(
                        record, mail, self.env._("Tag %(tag)s", tag=name)
                    )
                )
        tagged = trusted
        for name, record in tagged:
            plan.links.append(
                matcher.Link(
                    record._name,
                    record.id,
                    "",
                    "tag",
                    self.env._("Tag %(tag)s: %(record)s", tag=name, record=record.display_name),
                )
            )
        if tagged and not plan.route:
            record = tagged[0][1]
            plan.route = Route(
                record._name, record.id, why=self.env._("Tag %(tag)s", tag=tagged[0][0])
            )
            plan.followup = True

    @api.model
    def _converter_ticket_by_tag(self, tag_regex, msg_dict, source=None):
        """The ticket whose number ``tag_regex`` captures in the subject (in the mailbox's company)."""
        if not tag_regex:
            return self.env["helpdesk.ticket"]
        found = safe_regex.compile(tag_regex).search(msg_dict.get("subject") or "")
        if not found:
            return self.env["helpdesk.ticket"]
        number = found.group(1) if found.groups() else found.group(0)
        domain = [("number", "=ilike", number)]
        if source and source.company_id:
            domain.append(("company_id", "in", [source.company_id, False]))
        return self.env["helpdesk.ticket"].sudo().search(domain, limit=1)

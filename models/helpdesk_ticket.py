from odoo import api, fields, models, tools

from ..tools import privacy
from ..tools.addresses import normalize_email
from .html_field import WaveSanitizedHtml

# Tickets whose stage emails helpdesk_mgmt must not send in this transaction (see below).
SILENT_TICKETS_KEY = "mail_converter.silent_tickets"


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    # In a wave, sanitised once with the message body that repeats it (models/html_field.py).
    description = WaveSanitizedHtml()

    mail_converter_server_id = fields.Many2one(
        "fetchmail.server",
        "Mailbox",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The mailbox this ticket was created from. Replies to the customer are sent from "
        "its address.",
    )
    mail_converter_followup = fields.Boolean(
        "Customer replied",
        copy=False,
        help="The customer wrote again since the last reply to them; cleared when someone answers.",
    )
    mail_converter_followup_of_id = fields.Many2one(
        "helpdesk.ticket",
        "Follow-up of",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The closed ticket the customer replied to, long after its closing: this ticket "
        "continues it.",
    )

    mail_converter_mailbox_address = fields.Char(
        "Mailbox address",
        compute="_compute_mail_converter_mailbox_address",
        compute_sudo=True,
        help="The address replies to this ticket are sent from, when it came from a mailbox.",
    )

    @api.depends("mail_converter_server_id.converter_email", "company_id.name")
    def _compute_mail_converter_mailbox_address(self):
        for ticket in self:
            ticket.mail_converter_mailbox_address = ticket._mail_converter_mailbox_address()

    # -- replies from the shared mailbox ----------------------------------------------
    def _mail_converter_mailbox_email(self):
        """The normalised address replies to this ticket are sent from, or ``""``."""
        self.ensure_one()
        mailbox = self.sudo().mail_converter_server_id
        return mailbox._converter_own_email() if mailbox else ""

    def _mail_converter_mailbox_address(self, name=None):
        """The mailbox address formatted with ``name`` (the ticket's company by default)."""
        email = self._mail_converter_mailbox_email()
        if not email:
            return ""
        return tools.formataddr((name or self.sudo().company_id.name or "", email))

    def _mail_converter_replies_from_mailbox(self):
        """Whether messages posted now go out from the mailbox address: "Reply from mailbox" is
        the default, "Reply as me" (``mail_converter_reply_mode="me"`` in the context) opts out."""
        return (
            len(self) == 1
            and self.env.context.get("mail_converter_reply_mode", "mailbox") != "me"
            and not privacy.is_importing(self.env.context)
            and bool(self._mail_converter_mailbox_email())
        )

    @api.model_create_multi
    def create(self, vals_list):
        # A wave of the converter's batch makes its tickets in one create (mail.converter.batch).
        bulk = self._converter_bulk_create(vals_list)
        return super().create(vals_list) if bulk is None else bulk

    @api.model
    def message_new(self, msg_dict, custom_values=None):
        """Imported by the converter: its Cc recipients follow by the mailbox's setting
        (``_plan_cc_followers``), not all of helpdesk_mgmt's known contacts."""
        if not privacy.is_importing(self.env.context) or not msg_dict.get("cc"):
            return super().message_new(msg_dict, custom_values)
        cc = self._mail_cc_sanitized_raw_dict(msg_dict["cc"])
        custom_values = dict(custom_values or {})
        custom_values.setdefault("email_cc", ", ".join(cc.values()))
        return super().message_new(dict(msg_dict, cc=""), custom_values)

    def message_update(self, msg_dict, update_vals=None):
        """As :meth:`message_new`: the converter decides which Cc recipients follow."""
        if not privacy.is_importing(self.env.context) or not msg_dict.get("cc"):
            return super().message_update(msg_dict, update_vals)
        cc = self._mail_cc_sanitized_raw_dict(msg_dict["cc"])
        cc.update(self._mail_cc_sanitized_raw_dict(self.email_cc))
        update_vals = dict(update_vals or {}, email_cc=", ".join(cc.values()))
        return super().message_update(dict(msg_dict, cc=""), update_vals)

    def message_post(self, **kwargs):
        """A staff member's message to the customer goes out from the mailbox address, so the
        customer's answer comes back to this ticket; it also clears "Customer replied"."""
        public = kwargs.get(
            "message_type", "notification"
        ) == "comment" and self._mail_converter_is_public(kwargs)
        staff = self.env.user._is_internal() and not privacy.is_importing(self.env.context)
        if public and staff and self._mail_converter_replies_from_mailbox():
            author = kwargs.get("author_id") or self.env.user.partner_id.id
            author_name = self.env["res.partner"].browse(author).name
            kwargs["author_id"] = author
            kwargs["email_from"] = self._mail_converter_mailbox_address(author_name)
        message = super().message_post(**kwargs)
        if public and staff and self.mail_converter_followup:
            self.sudo().mail_converter_followup = False
        return message

    def _mail_converter_is_public(self, post_kwargs):
        """Whether a message posted with ``post_kwargs`` is sent to the customer (not a note)."""
        comment = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        subtype_id = post_kwargs.get("subtype_id")
        if post_kwargs.get("subtype_xmlid"):
            subtype_id = self.env["ir.model.data"]._xmlid_to_res_id(post_kwargs["subtype_xmlid"])
        return subtype_id == comment

    def _notify_get_reply_to(self, default=None, author_id=False):
        """Replies to a ticket from a mailbox go to that mailbox, which files them back here."""
        result = super()._notify_get_reply_to(default=default, author_id=author_id)
        return self._mail_converter_reply_to(result)

    def _notify_get_reply_to_batch(self, defaults=None, author_ids=None):
        result = super()._notify_get_reply_to_batch(defaults=defaults, author_ids=author_ids)
        return self._mail_converter_reply_to(result)

    def _mail_converter_reply_to(self, reply_to_by_id):
        """``reply_to_by_id`` with the mailbox address for tickets that reply from their mailbox."""
        if self.env.context.get("mail_converter_reply_mode") == "me":
            return reply_to_by_id
        for ticket in self:
            address = ticket._mail_converter_mailbox_address()
            if address:
                reply_to_by_id[ticket.id] = address
        return reply_to_by_id

    # -- stage emails ----------------------------------------------------------------------
    def _mail_converter_silence_stage_mails(self):
        """No stage email for these tickets in this transaction: the converter's acknowledgement
        replaces helpdesk_mgmt's creation email, and a customer's email never triggers one
        (an autoresponder would answer it: a mail loop)."""
        self.env.cr.precommit.data.setdefault(SILENT_TICKETS_KEY, set()).update(self.ids)

    def _track_template(self, changes):
        result = super()._track_template(changes)
        silent = self.env.cr.precommit.data.get(SILENT_TICKETS_KEY, ())
        if self and self[0].id in silent:
            result.pop("stage_id", None)
        return result

    # -- spam -------------------------------------------------------------------------------
    def action_mail_converter_spam(self):
        """Ask to mark these tickets as spam: ban their senders, delete them and their new contacts."""
        return self.env["mail.converter.spam"]._open_for(self)

    def _mail_converter_spam_sender(self):
        """The normalised address that sent this ticket, or ``""``."""
        self.ensure_one()
        return (
            normalize_email(tools.email_normalize(self.partner_email or "") or "")
            or self.partner_id.email_normalized
            or ""
        )

    @api.model
    def _mail_converter_spam_next_action(self):
        """Where the user lands after marking tickets as spam from a form."""
        return self.env["ir.actions.act_window"]._for_xml_id("helpdesk_mgmt.helpdesk_ticket_action")

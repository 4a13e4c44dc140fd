from odoo import api, models
from odoo.tools.misc import clean_context

from ..tools import privacy, rendezvous, waves
from ..tools.plan import MailDeferred
from ..tools.run_cache import RunCache


class MailThread(models.AbstractModel):
    """Private mail on any record: who may see it, mail staff send, who is notified."""

    _inherit = "mail.thread"

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        # Odoo's message_new describes every field of the model for each new record, only
        # to look up its name field; while the converter posts, its environment carries
        # the run's cache: the description does not change within a run.
        cache = self.env.context.get("mail_converter_run_cache")
        if not isinstance(cache, RunCache) or allfields is not None or attributes is not None:
            return super().fields_get(allfields, attributes)
        described = cache.get(
            ("fields_get", self._name, self.env.uid, self.env.su, self.env.lang),
            lambda: super(MailThread, self).fields_get(allfields, attributes),
        )
        return dict(described)

    @api.model
    def _converter_bulk_create(self, vals_list):
        """Inside a wave of the converter's batch (``mail.converter.batch``): record what Odoo's
        ``message_new`` chain creates, or hand back the record the wave made from exactly those
        values. ``None`` outside a wave, or when a value differs (then created here)."""
        bulk = waves.bulk_create_of(self.env.context)
        if bulk is None:
            return None
        if bulk.capturing:
            bulk.capture(self._name, vals_list)
            if bulk.stop_at == self._name:
                raise waves.Captured(self._name)
            return self.browse()
        ids = bulk.serve(self._name, vals_list)
        if ids is None:
            raise waves.BulkMismatch(bulk.mismatch)
        return self.browse(ids)

    @api.model
    def _routing_create_bounce_email(self, email_from, body_html, message, **mail_values):
        # Planning writes nothing: Odoo's loop guard would mail the sender here, so the
        # converter's plan keeps what it would send and its pipeline sends it.
        if self.env.context.get("mail_converter_planning"):
            raise MailDeferred(
                {
                    "email_to": email_from,
                    "email_from": email_from,
                    "body_html": body_html,
                    "mail_values": mail_values,
                }
            )
        return super()._routing_create_bounce_email(email_from, body_html, message, **mail_values)

    @api.model
    def _routing_handle_bounce(self, email_message, message_dict):
        # Odoo counts a bounce on every record holding the address, in every company and on
        # internal users' partners: a bounce of one company's mail stays within that company.
        company = self._mail_converter_bounce_company(message_dict.get("bounced_message"))
        partners = message_dict.get("bounced_partner")
        if partners:
            message_dict = dict(
                message_dict, bounced_partner=partners._mail_converter_bounce_scope(company)
            )
        scoped = self.with_context(mail_converter_bounce_company=company.id)
        return super(MailThread, scoped)._routing_handle_bounce(email_message, message_dict)

    @api.model
    def _mail_converter_bounce_company(self, message):
        """The company a bounce of ``message`` (a ``mail.message``, maybe empty) counts in: its
        record's, else the current company."""
        message = message.sudo() if message else message
        company = message.record_company_id if message else False
        if not company and message and message.model in self.env and message.res_id:
            record = self.env[message.model].sudo().browse(message.res_id).exists()
            if "company_id" in record._fields:
                company = record.company_id
        return company or self.env.company

    def _mail_converter_bounce_scope(self, company):
        """These records, less those a bounce counted in ``company`` must not touch: another
        company's, and internal users' partners."""
        records = self.sudo()
        if "company_id" in records._fields:
            records = records.filtered(lambda r: not r.company_id or r.company_id == company)
        if records._name == "res.partner":
            records = records.filtered(
                lambda p: all(u.share for u in p.with_context(active_test=False).user_ids)
            )
        return self.browse(records.ids)

    # -- hooks ---------------------------------------------------------------
    def _mail_converter_responsible_fields(self):
        """Fields naming the responsible of a record; override to add some (e.g. a team leader)."""
        field = self._fields.get("user_id")
        return ["user_id"] if getattr(field, "comodel_name", None) == "res.users" else []

    def _mail_converter_private_responsibles(self):
        """``{record id: users}`` who see the record's private mail besides its authors;
        override to widen (e.g. a helpdesk team leader)."""
        names = self._mail_converter_responsible_fields()
        result = {}
        for record in self:
            users = self.env["res.users"]
            for name in names:
                users |= record[name]
            result[record.id] = users
        return result

    def _mail_converter_privacy_holders(self):
        """The records whose privacy flags apply to mail on this record: the record itself
        (contacts, leads), and its customer (``partner_id``); a contact's company counts too."""
        self.ensure_one()
        holders = []
        if "mail_converter_all_private" in self._fields:
            holders.append(self)
        partner_field = self._fields.get("partner_id")
        if getattr(partner_field, "comodel_name", None) == "res.partner" and self.partner_id:
            holders.append(self.partner_id)
        partners = [h for h in holders if h._name == "res.partner"]
        for partner in partners:
            if partner.commercial_partner_id != partner:
                holders.append(partner.commercial_partner_id)
        return holders

    def _mail_converter_all_private_reason(self):
        """Why mail staff send on this record is private (*All emails private* on it or on
        its customer), or ``""``."""
        self.ensure_one()
        for holder in self._mail_converter_privacy_holders():
            if holder.mail_converter_all_private:
                return self.env._("%(record)s: all emails private", record=holder.display_name)
        return ""

    def _mail_converter_private_staff_mail(self, message):
        """Whether ``message`` is mail staff send (a comment or email, not a note, a log or
        an automatic message), which *All emails private* makes private."""
        return (
            message.message_type in ("comment", "email", "email_outgoing")
            and not message.is_internal
            and not message.subtype_id.internal
        )

    def _mail_converter_body_fields(self):
        """HTML fields holding a copy of the email that created the record (a ticket's or a
        lead's description), where inline images are shown too; override to add some."""
        field = self._fields.get("description")
        return ["description"] if field is not None and field.type == "html" else []

    # -- inline images: shown once, in the body ---------------------------------
    def _process_attachments_for_post(self, attachments, attachment_ids, message_values):
        result = super()._process_attachments_for_post(attachments, attachment_ids, message_values)
        if not privacy.is_importing(self.env.context) or "body" not in result:
            return result
        Content = self.env["mail.converter.content"]
        result["body"], sources = Content._converter_inline_images_posted(
            message_values.get("body"), result["body"]
        )
        if sources:
            model = message_values.get("model") or self._name
            res_id = message_values.get("res_id") or (self.id if len(self) == 1 else False)
            if model in self.env and res_id:
                record = self.env[model].sudo().browse(res_id)
                Content._converter_inline_record_images(record, sources)
        return result

    # -- private at creation, so that notifications already know -------------
    def _message_create(self, values_list):
        meeting = rendezvous.current()  # inside a wave: created with the wave's other messages
        if meeting is not None and self._converter_creates_with_wave():
            ids = meeting.meet(("mail.message", self, values_list))
            # in the environment Odoo's own _message_create returns them in
            messages = (
                self.env["mail.message"]
                .with_env(self.env(context=clean_context(self.env.context)))
                .browse(ids)
            )
        else:
            messages = super()._message_create(values_list)
        context = self.env.context
        posted = waves.posted_of(context)
        if posted is not None:
            posted.collect(messages.ids, values_list)
        imported = dict(context.get("mail_converter_private") or ())
        for message in messages:
            if privacy.is_importing(context):
                # Imported mail: the converter's plan decides, as the simulator shows.
                reason = imported.get(message.message_id)
            else:
                reason = self._mail_converter_sent_private_reason(message)
            if reason:
                message.sudo().write(
                    {"mail_converter_private": True, "mail_converter_private_reason": reason}
                )
        return messages

    def _converter_creates_with_wave(self):
        """Whether a wave of the converter's batch may create this model's messages together
        with its other emails' (``mail.converter.batch._converter_meet``): only when every
        class in the way is known to give the same result."""
        Batch = self.env["mail.converter.batch"]
        return Batch._converter_bulk_allowed(self._name) and Batch._converter_bulk_allowed(
            "mail.message"
        )

    def _converter_message_create_now(self, values_list):
        """Odoo's own ``_message_create`` of ``values_list`` (what a wave calls once for
        several emails' messages)."""
        return super()._message_create(values_list)

    def _mail_converter_sent_private_reason(self, message):
        """Why a message posted from Odoo on a record is private, or ``""``."""
        if not message.model or not message.res_id or message.model not in self.env:
            return ""
        record = self.env[message.model].sudo().browse(message.res_id)
        if not hasattr(record, "_mail_converter_all_private_reason"):
            return ""
        if not record._mail_converter_private_staff_mail(message):
            return ""
        # Posted on this very record (message_post): no need to check it still exists.
        if not (self._name == record._name and message.res_id in self.ids) and not record.exists():
            return ""
        return record._mail_converter_all_private_reason()

    def _notify_get_recipients(self, message, msg_vals=False, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals=msg_vals, **kwargs)
        message_sudo = message.sudo()
        if not message_sudo.mail_converter_private:
            return recipients
        addressed = set(
            msg_vals["partner_ids"]
            if msg_vals and "partner_ids" in msg_vals
            else message_sudo.partner_ids.ids
        )
        return [
            data
            for data in recipients
            if self._mail_converter_may_receive_private(message_sudo, data, addressed)
        ]

    def _mail_converter_may_receive_private(self, message, data, addressed):
        """Whether the recipient ``data`` (see ``_notify_get_recipients``) may be notified of the
        private ``message``: internal users who may see it, outside people it is written to."""
        if data.get("uid") and not data.get("ushare"):
            return message._mail_converter_may_see(self.env["res.users"].sudo().browse(data["uid"]))
        return not data.get("id") or data["id"] in addressed

    # -- who may see private mail follows the record's responsible ----------
    def write(self, vals):
        result = super().write(vals)
        if set(self._mail_converter_responsible_fields()) & vals.keys():
            self._mail_converter_refresh_private_messages()
        return result

    def _mail_converter_refresh_private_messages(self):
        """Give the private messages of these records to their current responsible."""
        if not self.ids:
            return
        self.env["mail.message"].sudo().search(
            [
                ("model", "=", self._name),
                ("res_id", "in", self.ids),
                ("mail_converter_private", "=", True),
            ]
        )._mail_converter_refresh_private_users()

from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.addons.mail.tools.discuss import Store


class MailMessage(models.Model):
    _inherit = "mail.message"

    mail_converter_private = fields.Boolean(
        "Private email",
        index="btree_not_null",
        copy=False,
        help="Only its author, the responsible of its record and, if the setting allows it, "
        "Settings administrators see this message and its attachments.",
    )
    mail_converter_private_reason = fields.Char(
        "Why private", readonly=True, copy=False, help="What made this email private."
    )
    # The global record rules cannot follow model/res_id to the record's responsible:
    # who may see a private message is stored on it, kept up to date by mail.thread.
    mail_converter_private_user_ids = fields.Many2many(
        "res.users",
        "mail_message_mail_converter_private_user_rel",
        "message_id",
        "user_id",
        string="Private: visible to",
        readonly=True,
        copy=False,
        help="Besides its author: the responsible of its record.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        messages = super().create(vals_list)
        messages.filtered("mail_converter_private")._mail_converter_refresh_private_users()
        return messages

    def write(self, vals):
        result = super().write(vals)
        if {"mail_converter_private", "model", "res_id"} & vals.keys():
            self._mail_converter_refresh_private_users()
        return result

    @api.model
    def _search(self, domain, *args, **kwargs):
        # mail.message runs its search query with cr.execute, which does not flush what
        # the privacy rule reads: a message made private in this transaction must not be found.
        self.flush_model(["mail_converter_private", "mail_converter_private_user_ids", "author_id"])
        return super()._search(domain, *args, **kwargs)

    def export_data(self, fields_to_export):
        # mail.message reads fields as superuser (see its fetch()); exporting given ids
        # must not skip the read access check that read() and search() make.
        self.check_access("read")
        return super().export_data(fields_to_export)

    def _mail_converter_refresh_private_users(self):
        """Store who may see each private message besides its author: its record's responsible."""
        by_record = defaultdict(set)
        for message in self.sudo():
            if message.mail_converter_private and message.model and message.res_id:
                by_record[message.model].add(message.res_id)
        responsibles = {}
        for model, res_ids in by_record.items():
            if model in self.env and hasattr(
                self.env[model], "_mail_converter_private_responsibles"
            ):
                records = self.env[model].sudo().browse(res_ids).exists()
                for res_id, users in records._mail_converter_private_responsibles().items():
                    responsibles[model, res_id] = users
        for message in self.sudo():
            users = (
                responsibles.get((message.model, message.res_id), self.env["res.users"])
                if message.mail_converter_private
                else self.env["res.users"]
            )
            if message.mail_converter_private_user_ids != users:
                message.mail_converter_private_user_ids = [Command.set(users.ids)]

    def _mail_converter_may_see(self, user):
        """Whether ``user`` may see this private message; mirrors the record rule, for notifications."""
        self.ensure_one()
        if not self.mail_converter_private or self._mail_converter_admin_sees_private(user):
            return True
        return user.partner_id == self.author_id or user in self.mail_converter_private_user_ids

    @api.model
    def _mail_converter_admin_sees_private(self, user):
        """Whether ``user`` is a Settings administrator allowed by the setting to see private mail."""
        return user.has_group("base.group_system") and user.has_group(
            "mail_converter.group_mail_converter_private_admin"
        )

    def _to_store_defaults(self, target):
        # The chatter shows a lock on private messages.
        return super()._to_store_defaults(target) + [
            "mail_converter_private",
            Store.Attr(
                "mail_converter_private_reason", predicate=lambda m: m.mail_converter_private
            ),
        ]

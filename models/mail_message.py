from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.addons.mail.tools.discuss import Store

from .html_field import WaveSanitizedHtml


class MailMessage(models.Model):
    _inherit = "mail.message"

    # In a wave, the body a new ticket's description already sanitised is not sanitised again.
    body = WaveSanitizedHtml()

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

    # -- a wave's memo (tools.wave_memo): the thread a new message joins -------------
    # Odoo's message_post looks for the thread's last message to answer (flat threads,
    # _message_compute_parent_id); on the records a wave has just created, it asks once.
    _CONVERTER_THREAD_ORDER = "date desc, id desc"
    _CONVERTER_THREAD_FIELDS = ("model", "res_id", "message_type", "date", "create_date")

    @api.model
    def _converter_memo_search(self, memo, domain, offset, limit, order):
        thread = self._converter_asked_thread(domain)
        fresh = memo.scope.get("fresh_threads", set())
        if (
            thread is None
            or thread not in fresh
            or offset
            or (order or "").strip().lower() != self._CONVERTER_THREAD_ORDER
            or not limit
        ):
            return super()._converter_memo_search(memo, domain, offset, limit, order)
        env_key = self._converter_memo_env_key()
        key = ("thread", *thread, env_key)

        def read_all():
            # every fresh thread of the model at once; this one's answer returned
            model = thread[0]
            ids = sorted(res_id for m, res_id in fresh if m == model)
            found = self._converter_ids_by(
                [("res_id", "in", ids), ("model", "=", model), *self._converter_thread_filter()],
                "res_id",
                self._CONVERTER_THREAD_ORDER,
            )
            answers = {("thread", model, res_id, env_key): found.get(res_id, []) for res_id in ids}
            memo.fill(self._name, answers, fields=self._CONVERTER_THREAD_FIELDS)
            return answers[key]

        return memo.answer(self._name, key, read_all, fields=self._CONVERTER_THREAD_FIELDS)[:limit]

    @api.model
    def _converter_thread_filter(self):
        return [("message_type", "!=", "user_notification")]

    @api.model
    def _converter_asked_thread(self, domain):
        """``(model, res_id)`` when ``domain`` is Odoo's question for a thread's messages."""
        conditions = self._converter_conditions(domain, 3)
        if not conditions:
            return None
        res_id, model = conditions[0][2], conditions[1][2]
        if not isinstance(res_id, int) or not isinstance(model, str):
            return None
        expected = [
            ("res_id", "=", res_id),
            ("model", "=", model),
            *self._converter_thread_filter(),
        ]
        return (model, res_id) if conditions == expected else None

    @api.model
    def _converter_memo_created(self, memo, vals_list):
        # A new message changes its own thread's answer only (and any other answer).
        threads = {(vals.get("model"), vals.get("res_id")) for vals in vals_list}
        if any(not model or not res_id for model, res_id in threads):
            return super()._converter_memo_created(memo, vals_list)
        memo.forget_matching(
            self._name, lambda key: not (key[0] == "thread" and (key[1], key[2]) not in threads)
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

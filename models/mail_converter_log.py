import base64

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.retry import ConverterRetry
from ..tools.source import Origin

STATES = [
    ("done", "Converted"),
    ("discarded", "Discarded"),
    ("duplicate", "Duplicate"),
    ("failed", "Failed"),
    ("rejected", "Rejected"),
    ("bounce", "Bounce"),
]
# States after which the message is finished with and its after-action may run.
FINAL_STATES = ("done", "discarded", "duplicate", "rejected", "bounce")


class MailConverterLog(models.Model):
    _name = "mail.converter.log"
    _description = "Mail converter log"
    _order = "id desc"
    _rec_name = "subject"

    message_key = fields.Char(
        required=True,
        index=True,
        readonly=True,
        help="Normalised Message-ID, or a hash of stable headers and body when it is missing.",
    )
    message_id = fields.Char("Message-ID", readonly=True, index="btree_not_null")
    server_id = fields.Many2one(
        "fetchmail.server", "Mailbox", index=True, ondelete="set null", readonly=True
    )
    folder_id = fields.Many2one(
        "mail.converter.folder", index=True, ondelete="set null", readonly=True
    )
    uid = fields.Integer("UID", readonly=True, help="IMAP UID of the message in its folder.")
    # Indexed: POP3 folders and archive imports (``import:<checksum>:<n>``) look copies up by it.
    uidl = fields.Char("POP3 UIDL", readonly=True, index="btree_not_null")
    uidvalidity = fields.Integer(readonly=True)
    direction = fields.Selection([("inbound", "Inbound"), ("outbound", "Outbound")], readonly=True)
    email_from = fields.Char("From", readonly=True)
    subject = fields.Char(readonly=True)
    message_date = fields.Char("Date header", readonly=True)
    state = fields.Selection(STATES, required=True, default="failed", index=True, readonly=True)
    reason = fields.Char(
        readonly=True, help="Why the message was discarded, rejected or marked duplicate."
    )
    error = fields.Text(readonly=True)
    attempts = fields.Integer(readonly=True, default=0)
    rule_id = fields.Many2one(
        "mail.converter.rule", readonly=True, ondelete="set null", index="btree_not_null"
    )
    rule_trace = fields.Text("Rule verdicts", readonly=True)
    duplicate_of_id = fields.Many2one("mail.converter.log", readonly=True, ondelete="set null")
    model = fields.Char("Primary model", readonly=True)
    res_id = fields.Many2oneReference("Primary record", model_field="model", readonly=True)
    mail_message_id = fields.Many2one(
        "mail.message", "Stored message", readonly=True, ondelete="set null"
    )
    link_ids = fields.One2many("mail.converter.link", "log_id", "Filed on", readonly=True)
    action_pending = fields.Boolean(
        "Server action pending",
        readonly=True,
        index=True,
        help="The folder's after-action (read, move, delete) is still to be applied on the mail server.",
    )
    raw_attachment_id = fields.Many2one(
        "ir.attachment", "Original email", readonly=True, ondelete="set null"
    )
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    sender_auth = fields.Selection(
        [("pass", "Authenticated"), ("fail", "Failed"), ("none", "No verdict")],
        "Sender authentication",
        readonly=True,
        index="btree_not_null",
        help="What the mailbox's trusted receiving servers (and, optionally, its own DKIM check) "
        "said about the sender: a failed sender counts as unknown.",
    )
    sender_auth_detail = fields.Char("Authentication detail", readonly=True)
    # Decided from the email itself (its headers, the records it concerns, the rules), so a row
    # with no stored message (duplicate, failed, rejected, bounce) is hidden too.
    private = fields.Boolean(
        "Private email",
        readonly=True,
        help="Only log readers who may read the email see this row, its links and its original.",
    )
    # -- special mail: bounces, BCC logging, certified mail (PEC) ------------------------------
    kind = fields.Selection(
        [
            ("mail", "Email"),
            ("bounce", "Bounce"),
            ("bcc", "BCC log"),
            ("pec", "Certified mail (PEC)"),
            ("pec_receipt", "PEC receipt"),
        ],
        default="mail",
        readonly=True,
        index=True,
    )
    bounce_recipients = fields.Char(
        "Bounced addresses", readonly=True, help="The addresses the delivery report names."
    )
    bounce_class = fields.Selection(
        [("hard", "Hard (the address is dead)"), ("soft", "Soft (temporary)")],
        readonly=True,
    )
    bounce_diagnostic = fields.Text(
        "Diagnostic", readonly=True, help="Status code and the remote server's answer."
    )
    bounce_message_id = fields.Many2one(
        "mail.message",
        "Bounced message",
        readonly=True,
        ondelete="set null",
        help="The message that could not be delivered, found by the returned Message-ID.",
    )
    bcc_explained_to = fields.Char(
        "Explanation sent to", readonly=True, help="Who was told why this BCC email was refused."
    )
    pec_receipt_type = fields.Char("PEC receipt", readonly=True, help="X-Ricevuta of a receipt.")
    pec_reference = fields.Char(
        "PEC reference", readonly=True, help="X-Riferimento-Message-ID: the certified message."
    )
    # -- helpdesk workflow: bans and acknowledgements -----------------------
    ban_id = fields.Many2one(
        "mail.converter.ban", readonly=True, ondelete="set null", index="btree_not_null"
    )
    auto_reply_state = fields.Selection(
        [("sent", "Sent"), ("not_sent", "Not sent")],
        "Acknowledgement",
        readonly=True,
        help="Whether this email got an acknowledgement; the reason says why not.",
    )
    auto_reply_reason = fields.Char("Acknowledgement note", readonly=True)
    auto_reply_to = fields.Char("Acknowledged address", readonly=True)
    auto_reply_date = fields.Datetime("Acknowledged on", readonly=True)

    # The loop guard counts recent acknowledgements per address, over every mailbox.
    _auto_reply_index = models.Index(
        "(auto_reply_to, auto_reply_date) WHERE auto_reply_state = 'sent'"
    )
    # -- security -----------------------------------------------------
    too_large = fields.Boolean(
        readonly=True,
        help="Larger than its mailbox's limit: logged, not imported, and never deleted from "
        "the mail server by the folder's after-action.",
    )

    # One converted (or failed) row per email and company; extra copies are 'duplicate' rows.
    # Per company: the same email sent to two companies' mailboxes is theirs twice.
    _message_key_unique = models.UniqueIndex(
        "(message_key, COALESCE(company_id, 0)) WHERE state != 'duplicate'",
        "This email has already been logged.",
    )
    _copy_index = models.Index("(folder_id, uidvalidity, uid)")

    @api.depends("subject", "message_key", "private")
    @api.depends_context("uid")
    def _compute_display_name(self):
        # Odoo reads a many2one's display name as sudo (a link's log_id): the real user decides.
        hidden = self._converter_private_hidden(self.env.user)
        for log in self:
            if log in hidden:
                log.display_name = self.env._("Private email")
            else:
                log.display_name = log.subject or log.message_id or log.message_key or ""

    def _converter_private_hidden(self, user):
        """The rows of private emails ``user`` may not read (mirrors the log's privacy rule)."""
        private = self.sudo().filtered("private")
        if (
            not private
            or user._is_superuser()
            or user._is_system()
            and user.has_group("mail_converter.group_mail_converter_private_admin")
        ):
            return self.browse()
        return private.filtered(
            lambda log: (
                not log.mail_message_id
                or (
                    log.mail_message_id.author_id != user.partner_id
                    and user not in log.mail_message_id.mail_converter_private_user_ids
                )
            )
        ).with_env(self.env)

    # -- user actions --------------------------------------------------
    def action_open_record(self):
        self.ensure_one()
        if not (self.model and self.res_id):
            raise UserError(self.env._("This email created no record."))
        return {
            "type": "ir.actions.act_window",
            "res_model": self.model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    # -- security: rows only the pipeline writes -------------------------
    @api.model
    def _converter_writable_fields(self):
        """Fields people may write on a log row (nothing by default); override to open some.

        Every other field is written by the pipeline only (as the system): a row pointed at
        another attachment or email would make a retry read it with the system's rights.
        """
        return set()

    def write(self, vals):
        if not self.env.su:
            forbidden = sorted(set(vals) - self._converter_writable_fields())
            if forbidden:
                raise AccessError(
                    self.env._(
                        "The mail converter log is written by the converter only (%(fields)s).",
                        fields=", ".join(forbidden),
                    )
                )
        return super().write(vals)

    def _converter_check_retry_access(self):
        """Retrying converts with the system's rights: converter administrators only."""
        if not (
            self.env.su or self.env.user.has_group("mail_converter.group_mail_converter_manager")
        ):
            raise AccessError(self.env._("Only mail converter administrators may retry emails."))
        self.check_access("write")

    def action_retry(self):
        """Convert failed emails again from their stored original, whatever the attempt count.

        Each email is converted in a savepoint of its own, as the fetch does, so
        one failing email does not undo the others.
        """
        self._converter_check_retry_access()  # log readers may look, not convert
        failed = self.filtered(lambda log: log.state == "failed")
        if not failed:
            raise UserError(self.env._("Only failed emails can be retried."))
        missing = failed.filtered(lambda log: not log._converter_raw_attachment())
        if missing:
            raise UserError(
                self.env._("No original is stored for %(log)s.", log=missing[0].display_name)
            )
        Converter = self.env["mail.converter"]
        sources = {}  # settings, rules and tags are read once per mailbox, not per email
        for log in failed.sudo():
            if log.server_id not in sources:
                sources[log.server_id] = log.server_id._converter_source()
            try:
                Converter._process(
                    log._converter_raw(),
                    sources[log.server_id],
                    log._converter_origin(),
                    retry_log=log,
                )
            except ConverterRetry:
                continue  # recorded as failed on the row: retried by the next fetch or by hand
        return True

    @api.model
    def _converter_lookup(self, key, company_id, origin):
        """What the log knows of this copy of an email, without writing: ``(primary, verdict)``.

        ``primary`` is the row converting the email for the company (exactly once per
        company), ``verdict`` is ``new`` (no row yet), ``same`` (this very copy),
        ``renumbered`` (this copy, its folder renumbered) or ``copy`` (another copy).
        """
        primary = self.sudo().search(
            [
                ("message_key", "=", key),
                ("state", "!=", "duplicate"),
                ("company_id", "=", company_id or False),
            ],
            limit=1,
        )
        if not primary:
            return primary, "new"
        if primary.folder_id.id == origin.folder_id:
            if origin.uidl and primary.uidl == origin.uidl:
                return primary, "same"
            if (
                not origin.uidl
                and primary.uid == origin.uid
                and primary.uidvalidity == origin.uidvalidity
            ):
                return primary, "same"
            if not origin.uidl and primary.uidvalidity != origin.uidvalidity:
                return primary, "renumbered"
        return primary, "copy"

    def _converter_count_attempt(self, step=1, at_least=0):
        """The one place that changes ``attempts``: ``step`` more (a collision with another
        worker gives its attempt back with -1), at least ``at_least`` (a message gone from the
        server has used them all)."""
        for log in self:
            log.attempts = max(log.attempts + step, at_least, 0)

    def action_open_simulator(self):
        """Replay this logged email in the simulator (its original is kept)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_converter.action_mail_converter_simulator"
        )
        action["context"] = {
            "default_log_id": self.id,
            "default_server_id": self.server_id.id,
            "default_direction": self.direction or "inbound",
        }
        return action

    def _converter_raw(self):
        """The original email of this row, as bytes: only an attachment of this very row."""
        self.ensure_one()
        attachment = self._converter_raw_attachment()
        return base64.b64decode(attachment.datas or b"") if attachment else b""

    def _converter_raw_attachment(self):
        """The row's stored original, or an empty recordset when it points elsewhere."""
        self.ensure_one()
        attachment = self.sudo().raw_attachment_id
        if attachment.res_model != self._name or attachment.res_id != self.id:
            return attachment.browse()
        return attachment

    def _converter_origin(self):
        """Where this logged copy was found (:class:`tools.source.Origin`), as the pipeline
        expects it."""
        self.ensure_one()
        origin = (
            self.folder_id._converter_origin()
            if self.folder_id
            else Origin(direction=self.direction or "inbound", backlog=True)
        )
        return origin.for_message(uid=self.uid, uidl=self.uidl or "", uidvalidity=self.uidvalidity)

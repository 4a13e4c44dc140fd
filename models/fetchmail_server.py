import logging
import re

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

from ..tools import bcc
from ..tools.addresses import normalize_email
from ..tools.run_cache import RunCache
from ..tools.source import MailboxSource

_logger = logging.getLogger(__name__)


def _address_set(text):
    """Normalised addresses of a free-text list (commas, semicolons, spaces or new lines)."""
    return frozenset(
        filter(None, (normalize_email(part) for part in re.split(r"[\s,;]+", text or "")))
    )


class FetchmailServer(models.Model):
    # Thread and activities: a failing mailbox gives its responsible a to-do, which they
    # mark done from the mailbox's chatter.
    _name = "fetchmail.server"
    _inherit = ["fetchmail.server", "mail.thread", "mail.activity.mixin"]

    # Stock stores it readable by anyone who can read the mailbox: admins only.
    password = fields.Char(groups="base.group_system")
    use_converter = fields.Boolean(
        "Use Mail Converter",
        help="Fetch this mailbox with the converter: per-folder settings, exactly-once conversion, "
        "a log, and retries of failed emails. Unticked, Odoo's stock fetching applies.",
    )
    starttls = fields.Boolean(
        "STARTTLS", help="Upgrade a plain connection to TLS before logging in."
    )
    verify_tls = fields.Boolean(
        "Verify certificate",
        default=True,  # security: on for new mailboxes
        help="Refuse servers whose TLS certificate is not trusted by this machine.",
    )
    converter_folder_ids = fields.One2many(
        "mail.converter.folder", "server_id", "Folders", copy=True
    )
    check_interval = fields.Integer(
        "Check every (minutes)",
        default=0,
        help="Minimum time between two scheduled fetches of this mailbox. 0 checks it every time "
        "the scheduler runs. 'Fetch now' ignores it.",
    )
    activation_date = fields.Datetime(
        readonly=True,
        copy=False,
        help="When the converter was switched on. Older mail is backlog: it may be imported "
        "but never gets automatic replies.",
    )
    max_attempts = fields.Integer(
        "Retries",
        default=5,
        help="How many times a failing email is tried before it waits for an admin to retry it from the log.",
    )
    batch_size = fields.Integer(
        default=50,
        help="Messages downloaded per IMAP round trip.",
    )
    only_linked = fields.Boolean(
        "Only import linked emails",
        help="Only import emails that can be linked to records (contacts, companies, leads or an existing "
        "conversation); users do not count. Others are logged as discarded.",
    )
    contact_creation_addresses = fields.Text(
        "Create contacts for mail to",
        help="Addresses such as info@ or sales@, separated by commas or new lines: an unknown sender "
        "writing to one of them becomes a contact.",
    )
    create_outbound_contacts = fields.Boolean(
        "Create contacts for recipients",
        help="In outbound folders, recipients unknown to Odoo become contacts.",
    )
    link_company_by_domain = fields.Boolean(
        "Link new contacts to companies",
        default=True,
        help="A new contact joins the company whose website has the same domain as its email. "
        "Free-mail domains (gmail.com, outlook.com, ...) never match.",
    )
    excluded_addresses = fields.Text(
        "Never import mail of",
        help="Staff addresses, separated by commas or new lines: emails from or to them are not imported.",
    )
    default_user_id = fields.Many2one(
        "res.users",
        "Default responsible",
        domain=[("share", "=", False)],
        help="Responsible of new records when no user is found among the recipients.",
    )
    converter_log_ids = fields.One2many("mail.converter.log", "server_id", "Log")
    converter_done_count = fields.Integer(compute="_compute_converter_counts")
    converter_failed_count = fields.Integer(compute="_compute_converter_counts")
    converter_other_count = fields.Integer(compute="_compute_converter_counts")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    # -- special mail: bounces, BCC logging, certified mail (PEC) ------------------------------
    remove_bounced_address = fields.Boolean(
        "Remove bounced addresses",
        default=True,
        help="A hard bounce (the address does not exist) removes the address from the contacts "
        "and leads holding it, with a note on each, and blocklists it. Soft bounces (mailbox full, "
        "greylisting) are only logged.",
    )
    bcc_logging = fields.Boolean(
        "BCC logging",
        help="Every email of this mailbox was BCC'd by a representative: it is logged on the one "
        "contact or lead its To recipients designate, as the representative's sent mail. No "
        "ticket or lead is created; refusals are explained to the sender.",
    )
    bcc_user_ids = fields.Many2many(
        "res.users",
        "fetchmail_server_bcc_user_rel",
        "server_id",
        "user_id",
        "Representatives",
        domain=[("share", "=", False)],
        help="Internal users whose BCC'd mail is logged; their own email address identifies them.",
    )
    bcc_accepted_senders = fields.Text(
        "Accepted senders",
        help="Extra sender addresses, one per line: 'alias@example.com = rep@yourcompany.com' for "
        "one representative, or just 'alias@example.com' for all of them (the display name then "
        "tells them apart).",
    )
    bcc_category_id = fields.Many2one(
        "res.partner.category",
        "Tag for logged contacts",
        help="Contacts that mail is logged on get this tag.",
    )
    is_pec = fields.Boolean(
        "Certified mail (PEC)",
        help="Italian certified mailbox: each PEC is converted from the message inside its "
        "envelope (postacert.eml), keeping the envelope and daticert.xml as attachments; "
        "receipts are filed on the conversation they refer to.",
    )
    converter_bcc_error_count = fields.Integer(compute="_compute_converter_bcc_error_count")
    # -- helpdesk workflow: acknowledgements, replies, follow-ups ----------
    converter_email = fields.Char(
        "Mailbox address",
        compute="_compute_converter_email",
        store=True,
        readonly=False,
        help="The address customers write to. Acknowledgements and replies to tickets from this "
        "mailbox are sent from it, with it as Reply-To, so the answers come back here. "
        "Defaults to the login when that is an email address.",
    )
    auto_reply_template_id = fields.Many2one(
        "mail.template",
        "Acknowledgement",
        domain=[("model", "=", "helpdesk.ticket")],
        default=lambda self: self.env.ref(
            "mail_converter.mail_template_ticket_acknowledgement", raise_if_not_found=False
        ),
        help="Sent once to the customer of each new ticket, with the ticket number in the "
        "subject. It replaces the helpdesk's own creation email. Empty: no acknowledgement.",
    )
    auto_reply_limit = fields.Integer(
        "Acknowledgements per sender per hour",
        default=3,
        help="The mail loop guard: no sender gets more acknowledgements than this in an hour, "
        "counted over every mailbox.",
    )
    auto_reply_hourly_cap = fields.Integer(
        "Automatic replies per hour",
        default=30,
        help="The backscatter cap: acknowledgements and BCC explanations this mailbox sends in "
        'an hour, to all senders together. Over it, they are logged "not sent: hourly cap".',
    )
    converter_reopen_days = fields.Integer(
        "Reopen closed tickets for (days)",
        default=14,
        help="A customer's reply within this many days of a ticket's closing reopens it (the "
        "team's first open stage) and flags it; a later reply opens a new ticket linked to "
        "the old one. 0: never reopen, replies are filed on the closed ticket. A helpdesk "
        "team can set its own number.",
    )
    converter_cc_followers = fields.Selection(
        [
            ("no", "No"),
            ("known", "Known contacts"),
            ("all", "Known and new contacts"),
        ],
        "Add Cc recipients as followers",
        default="known",
        required=True,
        help="Cc recipients of a new ticket or lead, or of a follow-up, become its followers and "
        "receive the replies. Internal users, our own addresses, excluded and banned "
        "addresses never do. New contacts are created as for unknown senders.",
    )

    # -- security: TLS by default, size limit, ID-tag trust ------------------
    is_ssl = fields.Boolean(default=True)
    port = fields.Integer(default=993)
    converter_max_size = fields.Integer(
        "Largest email (MB)",
        default=50,
        help="Larger emails are not downloaded nor imported: they are logged as rejected with "
        "their size and stay on the mail server (never deleted by the folder's after-action). "
        "0: no limit.",
    )
    converter_trust_company_domain = fields.Boolean(
        "Trust the customer's colleagues",
        help="An ID tag or a reply also files an email on a record when the sender writes from "
        "the domain of the record's customer (never a free-mail domain). Off: only the "
        "customer, the followers and the responsible of the record are trusted.",
    )
    converter_tls_warning = fields.Char(compute="_compute_converter_tls_warning")

    _converter_max_size_positive = models.Constraint(
        "CHECK(converter_max_size >= 0)",
        "The largest email size cannot be negative.",
    )

    @api.depends("use_converter", "server_type", "is_ssl", "starttls", "verify_tls")
    def _compute_converter_tls_warning(self):
        for server in self:
            warning = False
            if server.use_converter and server.server_type in ("imap", "pop"):
                if not (server.is_ssl or server.starttls):
                    warning = self.env._(
                        "This mailbox connects without encryption: its password and emails "
                        "cross the network in clear text. Use SSL/TLS or STARTTLS."
                    )
                elif not server.verify_tls:
                    warning = self.env._(
                        "The server's certificate is not verified: anyone between Odoo and the "
                        "mail server can read the password and the emails. Tick Verify "
                        "certificate, or install the server's certificate authority."
                    )
            server.converter_tls_warning = warning

    def _converter_source_security(self):
        """The security settings as :class:`MailboxSource` values."""
        self.ensure_one()
        return {
            "max_message_size": max(self.converter_max_size, 0) * 1024 * 1024,
            "trust_company_domain": self.converter_trust_company_domain,
        }

    @api.depends("user")
    def _compute_converter_email(self):
        for server in self:
            if not server.converter_email:
                server.converter_email = normalize_email(server.user) or False

    def _converter_own_email(self):
        """The normalised address this mailbox answers from (its mailbox address, else its login)."""
        self.ensure_one()
        return normalize_email(self.converter_email) or normalize_email(self.user)

    @api.model
    def _converter_mailbox_addresses(self):
        """Every converter mailbox's addresses (login and mailbox address), normalised."""
        servers = self.sudo().with_context(active_test=False).search([("use_converter", "=", True)])
        return frozenset(
            filter(
                None,
                [normalize_email(s.user) for s in servers]
                + [normalize_email(s.converter_email) for s in servers],
            )
        )

    _check_interval_positive = models.Constraint(
        "CHECK(check_interval >= 0)",
        "The check interval cannot be negative.",
    )

    @api.depends("converter_log_ids.state")
    def _compute_converter_counts(self):
        counts = {
            (server.id, state): count
            for server, state, count in self.env["mail.converter.log"]._read_group(
                [("server_id", "in", self.ids)],
                ["server_id", "state"],
                ["__count"],
            )
        }
        for server in self:
            done = counts.get((server.id, "done"), 0)
            failed = counts.get((server.id, "failed"), 0)
            total = sum(c for (sid, _s), c in counts.items() if sid == server.id)
            server.converter_done_count = done
            server.converter_failed_count = failed
            server.converter_other_count = total - done - failed

    # -- special mail: bounces, BCC logging, certified mail (PEC) ------------------------------
    @api.depends("converter_log_ids.state", "converter_log_ids.kind")
    def _compute_converter_bcc_error_count(self):
        counts = dict(
            self.env["mail.converter.log"]._read_group(
                [("server_id", "in", self.ids), ("kind", "=", "bcc"), ("state", "=", "rejected")],
                ["server_id"],
                ["__count"],
            )
        )
        for server in self:
            server.converter_bcc_error_count = counts.get(server, 0)

    @api.constrains("bcc_user_ids", "bcc_accepted_senders")
    def _check_bcc_settings(self):
        for server in self:
            if server.bcc_user_ids.filtered("share"):
                raise ValidationError(self.env._("Representatives must be internal users."))
            entries, errors = bcc.parse_accepted_senders(server.bcc_accepted_senders)
            if errors:
                raise ValidationError(
                    self.env._(
                        "Accepted senders: %(entry)s is not an address or 'alias = representative'.",
                        entry=errors[0],
                    )
                )
            reps = server._converter_bcc_representatives()
            for entry in entries:
                if entry.owner and not any(entry.owner in rep.emails for rep in reps):
                    raise ValidationError(
                        self.env._(
                            "Accepted senders: %(owner)s is not the address of a representative.",
                            owner=entry.owner,
                        )
                    )

    def _converter_bcc_representatives(self):
        """The representatives as :class:`tools.bcc.Representative`; override to add addresses."""
        self.ensure_one()
        return tuple(
            bcc.Representative(
                user.id,
                user.partner_id.id,
                user.name,
                frozenset(filter(None, (normalize_email(user.email), normalize_email(user.login)))),
            )
            for user in self.bcc_user_ids.sudo()
        )

    def _converter_bcc_reply_from(self):
        """From of the explanations mailed back to BCC senders: the mailbox's own address."""
        self.ensure_one()
        address = self._converter_own_email()
        if address:
            return tools.formataddr((self.company_id.name or "", address))
        return self.company_id.email_formatted or ""

    def _converter_source_special(self):
        """The settings of bounces, BCC logging and PEC, as :class:`MailboxSource` values."""
        self.ensure_one()
        accepted, _errors = bcc.parse_accepted_senders(self.bcc_accepted_senders)
        return {
            "remove_bounced_address": self.remove_bounced_address,
            "bcc_logging": self.bcc_logging,
            "bcc_representatives": self._converter_bcc_representatives(),
            "bcc_accepted_senders": accepted,
            "bcc_category_id": self.bcc_category_id.id,
            "bcc_reply_from": self._converter_bcc_reply_from() if self.bcc_logging else "",
            "is_pec": self.is_pec,
        }

    @api.constrains("use_converter", "server_type")
    def _check_converter_server_type(self):
        for server in self:
            # OAuth types (outlook, gmail) are IMAP with another login.
            if server.use_converter and server._get_connection_type() not in ("imap", "pop"):
                raise ValidationError(
                    self.env._(
                        "The mail converter reads IMAP and POP3 mailboxes; "
                        "%(name)s keeps Odoo's stock fetching.",
                        name=server.name,
                    )
                )

    @api.onchange("use_converter")
    def _onchange_use_converter(self):
        if self.use_converter and not self.object_id:
            self.object_id = self.env["ir.model"]._get("helpdesk.ticket")
        if self.use_converter and not self.converter_folder_ids:
            self.converter_folder_ids = [fields.Command.create({"path": "INBOX"})]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("use_converter"):
                vals.setdefault("activation_date", fields.Datetime.now())
                vals.setdefault("converter_folder_ids", [fields.Command.create({"path": "INBOX"})])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("use_converter") and "activation_date" not in vals:
            for server in self.filtered(lambda s: not s.activation_date):
                server.activation_date = fields.Datetime.now()
        res = super().write(vals)
        if vals.get("use_converter"):
            self.filtered(lambda s: not s.converter_folder_ids).write(
                {"converter_folder_ids": [fields.Command.create({"path": "INBOX"})]}
            )
        return res

    def _converter_source(self):
        """This mailbox's settings, rules and tag patterns as one plain value, read once per run.

        Each batch commit empties the ORM cache; reading these from the record
        again for every email would cost queries on the hot path.
        """
        self.ensure_one()
        own = {normalize_email(self.user)} if self.user and "@" in self.user else set()
        own.add(normalize_email(self.converter_email))  # helpdesk workflow: the reply address
        return MailboxSource(
            server_id=self.id,
            name=self.name,
            company_id=self.company_id.id,
            model=self.object_id.model or None,
            save_original=self.original,
            strip_attachments=not self.attach,
            max_attempts=self.max_attempts,
            only_linked=self.only_linked,
            contact_creation_addresses=_address_set(self.contact_creation_addresses),
            create_outbound_contacts=self.create_outbound_contacts,
            link_company_by_domain=self.link_company_by_domain,
            excluded_addresses=_address_set(self.excluded_addresses),
            default_user_id=self.default_user_id.id,
            activation_date=self.activation_date,
            own_addresses=frozenset(filter(None, own)),
            tag_patterns=self.env["mail.converter.tag"]._converter_patterns(self.company_id.id),
            rules=tuple(
                r
                for r in self.env["mail.converter.rule"]._converter_rules(self.company_id.id)
                if not r.server_ids or self.id in r.server_ids
            ),
            **self._converter_source_special(),  # bounces, BCC logging, PEC
            # helpdesk workflow
            bans=self.env["mail.converter.ban"]._converter_bans(self.company_id.id),
            reply_email=self._converter_own_email() or "",
            auto_reply_template_id=self.auto_reply_template_id.id,
            auto_reply_limit=self.auto_reply_limit,
            auto_reply_hourly_cap=self.auto_reply_hourly_cap,
            reopen_days=max(self.converter_reopen_days, 0),
            cc_followers=self.converter_cc_followers or "known",
            mailbox_addresses=self._converter_mailbox_addresses(),
            run_cache=RunCache(),
            **self._converter_source_security(),  # security
        )

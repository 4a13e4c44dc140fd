import json
import logging
import re
from collections import Counter
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models, tools
from odoo.addons.base.models.ir_cron import _intervalTypes
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.misc import format_date

from ..tools import bcc
from ..tools.addresses import normalize_email
from ..tools.connection import MailboxError, connect
from ..tools.source import MailboxSource

_logger = logging.getLogger(__name__)

# Common names of sent-mail folders, to suggest their direction when listing folders.
SENT_FOLDER_NAMES = {
    "sent",
    "sent items",
    "sent mail",
    "sent messages",
    "gesendet",
    "gesendete elemente",
    "envoyés",
    "elementi inviati",
    "posta inviata",
    "enviados",
    "elementos enviados",
    "verzonden items",
}


def _address_set(text):
    """Normalised addresses of a free-text list (commas, semicolons, spaces or new lines)."""
    return frozenset(
        filter(None, (normalize_email(part) for part in re.split(r"[\s,;]+", text or "")))
    )


# Operations: how far failures push the next attempt back, and when someone is told.
BACKOFF_MAX_FACTOR = 16
ALERT_AFTER = timedelta(hours=24)
GRAPH_DAYS = 14


# A mailbox that finds nothing new records its last run at most this often (no write per poll).
QUIET_RUN_MINUTES = 15


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
    # -- helpdesk workflow (issue 10): acknowledgements, replies, follow-ups ----------
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
    converter_reopen_closed = fields.Boolean(
        "Reopen closed tickets",
        help="A customer's follow-up on a ticket in a closed stage moves it back to the "
        "team's first open stage.",
    )

    # -- security (issue 9 part B): TLS by default, size limit, ID-tag trust ------------------
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

    def _converter_check_mailbox_admin(self):
        """Refuse the actions that log in to the mail server (fetch, test, list folders) to
        anyone but Settings administrators, before any ``sudo()``; override to widen."""
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(
                self.env._(
                    "Only Settings administrators may make Odoo log in to a mailbox (%(mailbox)s).",
                    mailbox=", ".join(self.sudo().mapped("name")),
                )
            )
        self.check_access("write")

    def fetch_mail(self):
        self._converter_check_mailbox_admin()
        return super().fetch_mail()

    def _converter_source_security(self):
        """The security settings as :class:`MailboxSource` values."""
        self.ensure_one()
        return {
            "max_message_size": max(self.converter_max_size, 0) * 1024 * 1024,
            "trust_company_domain": self.converter_trust_company_domain,
        }

    # -- end security ----------------------------------------------------------------------

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

    # -- end helpdesk workflow ----------------------------------------------------------

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

    def action_open_converter_bcc_errors(self):
        """The BCC error report: emails this logging address refused, with the reason."""
        action = self.action_open_converter_log()
        action["domain"] = [("server_id", "=", self.id), ("kind", "=", "bcc")]
        action["context"]["search_default_state_rejected"] = 1
        action["name"] = self.env._("BCC errors")
        return action

    @api.constrains("use_converter", "server_type")
    def _check_converter_server_type(self):
        for server in self:
            # OAuth types (outlook, gmail) are IMAP with another login (issue 19).
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
            # helpdesk workflow (issue 10)
            bans=self.env["mail.converter.ban"]._converter_bans(self.company_id.id),
            reply_email=self._converter_own_email() or "",
            auto_reply_template_id=self.auto_reply_template_id.id,
            auto_reply_limit=self.auto_reply_limit,
            reopen_closed=self.converter_reopen_closed,
            mailbox_addresses=self._converter_mailbox_addresses(),
            **self._converter_source_security(),  # security (issue 9 part B)
        )

    # -- connection ----------------------------------------------------
    def _converter_security(self):
        """Return ``ssl``, ``starttls`` or ``none``; override for other transports."""
        self.ensure_one()
        if self.is_ssl:
            return "ssl"
        return "starttls" if self.starttls else "none"

    def _converter_connect(self):
        """Open a logged-in :mod:`..tools.connection` mailbox for this server."""
        self.ensure_one()
        protocol = self._get_connection_type()
        if protocol not in ("imap", "pop"):
            raise UserError(self.env._("The mail converter reads IMAP and POP3 mailboxes only."))
        return connect(
            protocol,
            self.server,
            int(self.port),
            self.user,
            self.password,
            security=self._converter_security(),
            verify_tls=self.verify_tls,
            # Odoo's login seam (_imap_login__) and the advanced parameters (issue 19).
            **self._converter_connection_options(),
        )

    def _converter_list_folders(self, failure):
        """Log in and list the server's folders as ``{path: special-use attributes}``;
        any failure becomes a UserError starting with ``failure``."""
        self.ensure_one()
        self._converter_check_mailbox_admin()
        try:
            mailbox = self.sudo()._converter_connect()
            names = mailbox.list_folders()
            names = {name: mailbox.folder_flags.get(name, frozenset()) for name in names}
            mailbox.disconnect()
        except (MailboxError, OSError, UnicodeError) as exc:
            raise UserError(
                self.env._(
                    "%(failure)s: %(error)s", failure=failure, error=tools.exception_to_unicode(exc)
                )
            ) from exc
        return names

    def button_confirm_login(self):
        self._converter_check_mailbox_admin()  # security: before anything logs in
        stock = self.filtered(lambda s: not s.use_converter)
        if stock:
            super(FetchmailServer, stock).button_confirm_login()
        for server in self - stock:
            folders = server._converter_list_folders(self.env._("Connection test failed"))
            server.write({"state": "done", "error_date": False, "error_message": False})
            missing = [
                f.path
                for f in server.converter_folder_ids
                if f.active and f.path not in folders and server.server_type == "imap"
            ]
            if missing:
                raise UserError(
                    self.env._(
                        "Connected, but these folders do not exist on the server: %(missing)s",
                        missing=", ".join(missing),
                    )
                )
        if len(self) == 1 and self.use_converter:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "success",
                    "title": self.env._("Connection test successful"),
                    "message": self.env._("Logged in to %(server)s.", server=self.server),
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        return True

    def action_list_folders(self):
        """Read the folder list from the server into a wizard, never from a compute."""
        self.ensure_one()
        self._converter_check_mailbox_admin()  # security: before anything logs in
        folders = self._converter_list_folders(self.env._("Could not list folders"))
        wizard = self.env["mail.converter.folder.wizard"]._converter_create_for(self, folders)
        return {
            "type": "ir.actions.act_window",
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Folders on %(server)s", server=self.name),
        }

    @api.model
    def _converter_guess_direction(self, path, special_use=frozenset()):
        """Suggest ``outbound`` for sent-mail folders: flagged ``\\Sent`` by the server
        (RFC 6154), else by name; override for other naming schemes."""
        if "\\Sent" in special_use:
            return "outbound"
        leaf = path.replace("\\", "/").replace(".", "/").rsplit("/", 1)[-1].strip().lower()
        return "outbound" if leaf in SENT_FOLDER_NAMES else "inbound"

    def action_open_converter_log(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_converter.action_mail_converter_log"
        )
        action["domain"] = [("server_id", "=", self.id)]
        state = self.env.context.get("converter_state")
        action["context"] = {"search_default_server_id": self.id}
        if state:
            action["context"][f"search_default_state_{state}"] = 1
        if self.env.context.get("converter_period") == "24h":
            action["context"]["search_default_last_24h"] = 1
        return action

    # -- fetching ------------------------------------------------------
    def _converter_is_due(self, now=None):
        """Whether the scheduler should fetch this mailbox now (its check interval, or its backoff)."""
        self.ensure_one()
        due = self._converter_due_at()
        # A minute of slack so a 5-minute cron does not skip a 5-minute mailbox.
        return not due or due <= (now or fields.Datetime.now()) + timedelta(minutes=1)

    @api.model
    def _cron_converter_worker(self):
        """A parallel fetch worker (its own scheduled job): reads the converter mailboxes that
        are due, least recently read first; mailboxes another worker holds are skipped."""
        servers = self.search(
            [("use_converter", "=", True), ("state", "=", "done"), ("server_type", "!=", "local")],
            order="date asc nulls first, id asc",
        )
        # Workers that start together would queue behind the same mailbox: start elsewhere.
        cron_id = self.env.context.get("cron_id") or 0
        if servers:
            offset = cron_id % len(servers)
            servers = servers[offset:] + servers[:offset]
        servers._fetch_mail()

    def _fetch_mail(self, batch_limit=50):
        if self.env.context.get("cron_id"):
            self = self.filtered(lambda s: s._converter_is_due())
        converter = self.filtered("use_converter")
        stock = self - converter
        result_exception = super(FetchmailServer, stock)._fetch_mail(batch_limit) if stock else None
        for server in converter:
            # Each mailbox runs in a transaction of its own, committed when it is done, as stock
            # fetchmail commits between mailboxes: its lock and its snapshot start with it, so
            # locking it never collides with what another worker committed meanwhile.
            with self.env.registry.cursor() as server_cr:
                exception = server.with_env(server.env(cr=server_cr))._converter_fetch()
            result_exception = exception or result_exception
        if converter:
            self.invalidate_recordset()
        return result_exception

    def _converter_fetch(self):
        """Fetch every active folder of this mailbox; return the exception that stopped it, if any.

        This transaction holds the mailbox's lock; the emails are converted and
        committed batch by batch in a cursor of their own, as stock fetchmail does.
        """
        self.ensure_one()
        # Not toggling the shared fetchmail cron on every write avoids workers colliding on it.
        self = self.with_context(fetchmail_cron_running=True)
        if not self._converter_try_lock():
            if self._converter_has_ranges():
                return self._converter_help()
            _logger.info("Mailbox %s is being fetched by another worker; skipped.", self.name)
            return None
        counts = Counter()
        exception = None
        mailbox = None
        try:
            mailbox = self._converter_connect()
            with self.env.registry.cursor() as message_cr:
                env = self.env(
                    cr=message_cr, context=dict(self.env.context, mail_converter_run_cache={})
                )
                server = self.with_env(env)
                source = server._converter_source()
                for folder in server.converter_folder_ids.filtered("active"):
                    folder._converter_fetch(mailbox, source, counts)
                    if folder._converter_time_is_up():
                        break
            self._converter_record_success()
        except Exception as exc:  # noqa: BLE001 - shown on the mailbox, never crashes the run
            exception = exc
            _logger.warning(
                "Mail converter: fetching %s failed: %s",
                self.name,
                exc,
                exc_info=not isinstance(exc, MailboxError | OSError),
            )
            self._converter_record_error(exc)
        finally:
            if mailbox is not None:
                try:
                    mailbox.disconnect()
                except Exception:  # noqa: BLE001 - the session is over either way
                    _logger.info(
                        "Mail converter: could not close %s cleanly", self.name, exc_info=True
                    )
        _logger.info(
            "Mail converter: %s fetched; %s",
            self.name,
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing new",
        )
        now = fields.Datetime.now()
        if counts or exception or self._converter_record_quiet_run(now):
            self.write({"date": now, "converter_last_run": now})
        return exception

    def _converter_has_ranges(self):
        """Whether this mailbox's folders have backlog ranges waiting for a worker."""
        self.env.cr.execute(
            SQL("SELECT 1 FROM mail_converter_folder_range WHERE server_id = %s LIMIT 1", self.id)
        )
        return bool(self.env.cr.fetchone())

    def _converter_help(self):
        """Convert backlog ranges of a mailbox another worker holds.

        The holder keeps the mailbox's own state (new messages, retries, health); a
        helper only takes free ranges, so nothing it writes is shared with the holder.
        Its failures are logged here and seen again by the holder on the next run.
        """
        counts = Counter()
        mailbox = None
        try:
            mailbox = self._converter_connect()
            with self.env.registry.cursor() as message_cr:
                env = self.env(
                    cr=message_cr, context=dict(self.env.context, mail_converter_run_cache={})
                )
                server = self.with_env(env)
                source = server._converter_source()
                Range = env["mail.converter.folder.range"].sudo()
                folders = Range.search([("server_id", "=", self.id)]).folder_id
                for folder in folders.filtered("active"):
                    state = mailbox.open_folder(folder.path, after_uid=folder.last_uid)
                    folder._converter_work_ranges(mailbox, source, counts, state.uidvalidity)
                    if folder._converter_time_is_up():
                        break
        except Exception as exc:  # noqa: BLE001 - the holder reports the mailbox's health
            _logger.warning(
                "Mail converter: helping with %s failed: %s",
                self.name,
                exc,
                exc_info=not isinstance(exc, MailboxError | OSError),
            )
        finally:
            if mailbox is not None:
                try:
                    mailbox.disconnect()
                except Exception:  # noqa: BLE001 - the session is over either way
                    _logger.info(
                        "Mail converter: could not close %s cleanly", self.name, exc_info=True
                    )
        _logger.info(
            "Mail converter: helped another worker with %s; %s",
            self.name,
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing left",
        )
        return None

    def _converter_try_lock(self):
        """Lock this mailbox for this run; False when another worker holds it (or just did)."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM fetchmail_server WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED",
                        self.id,
                    ),
                    log_exceptions=False,
                )
                return bool(self.env.cr.fetchone())
        except psycopg2.errors.SerializationFailure:
            # Another worker updated it after this transaction began: it was just fetched.
            return False

    def _converter_record_quiet_run(self, now):
        """Whether a run that found nothing is worth a database write.

        A quiet mailbox costs one connection and one SELECT, and no write: its last run
        is recorded at most every QUIET_RUN_MINUTES, unless its check interval needs it.
        """
        self.ensure_one()
        last = self.converter_last_run
        return (
            bool(self.check_interval)
            or not last
            or last <= now - timedelta(minutes=QUIET_RUN_MINUTES)
        )

    # -- health: last run, last error, backoff, alert, dashboard ----------------------
    # A failing mailbox keeps its error here and is retried later and later (up to
    # BACKOFF_MAX_FACTOR times its interval) instead of being switched off as stock
    # fetchmail does: it recovers by itself, and its responsible is told once.
    converter_last_run = fields.Datetime(
        "Last run", readonly=True, copy=False, help="When the converter last read this mailbox."
    )
    converter_last_error = fields.Text(
        "Last error",
        readonly=True,
        copy=False,
        help="Why the last run failed (login refused, server unreachable, TLS...). "
        "Cleared by the next successful run.",
    )
    converter_last_error_date = fields.Datetime("Last error on", readonly=True, copy=False)
    converter_failing_since = fields.Datetime(
        "Failing since", readonly=True, copy=False, help="First failure of the current series."
    )
    converter_failure_count = fields.Integer(
        "Failures in a row", readonly=True, copy=False, default=0
    )
    converter_alert_sent = fields.Boolean(readonly=True, copy=False)
    converter_responsible_id = fields.Many2one(
        "res.users",
        "Responsible",
        domain=lambda self: [
            ("share", "=", False),
            ("all_group_ids", "in", self.env.ref("mail_converter.group_mail_converter_manager").id),
        ],
        help="Gets a to-do when the mailbox has failed for 24 hours. Empty: every Settings "
        "administrator.",
    )
    converter_next_run = fields.Datetime(
        "Next run",
        compute="_compute_converter_next_run",
        help="When the mail scheduler will read this mailbox next: its check interval, "
        "or later while it is failing.",
    )
    converter_health = fields.Selection(
        [("ok", "Healthy"), ("failing", "Failing"), ("off", "Not running")],
        compute="_compute_converter_health",
    )
    converter_health_color = fields.Integer(compute="_compute_converter_health")
    converter_done_count_24h = fields.Integer(
        "Converted (24 h)", compute="_compute_converter_counts_24h"
    )
    converter_failed_count_24h = fields.Integer(
        "Failed (24 h)", compute="_compute_converter_counts_24h"
    )
    converter_other_count_24h = fields.Integer(
        "Skipped (24 h)", compute="_compute_converter_counts_24h"
    )
    converter_graph = fields.Text(
        compute="_compute_converter_graph", help="Emails logged per day over 14 days, as JSON."
    )

    @api.depends("use_converter", "active", "state", "converter_last_error")
    def _compute_converter_health(self):
        colors = {"ok": 10, "failing": 1, "off": 0}
        for server in self:
            if not (server.use_converter and server.active and server.state == "done"):
                health = "off"
            else:
                health = "failing" if server.converter_last_error else "ok"
            server.converter_health = health
            server.converter_health_color = colors[health]

    @api.model
    def _converter_log_state_groups(self):
        """How the dashboard groups log states: converted, failed, and everything else (skipped)."""
        return {"done": "done", "failed": "failed"}

    @api.depends("converter_log_ids.state")
    def _compute_converter_counts_24h(self):
        groups = self._converter_log_state_groups()
        counts = Counter()
        if self.ids:
            for server, state, count in self.env["mail.converter.log"]._read_group(
                [
                    ("server_id", "in", self.ids),
                    ("create_date", ">=", fields.Datetime.now() - timedelta(hours=24)),
                ],
                ["server_id", "state"],
                ["__count"],
            ):
                counts[server.id, groups.get(state, "other")] += count
        for server in self:
            server.converter_done_count_24h = counts[server.id, "done"]
            server.converter_failed_count_24h = counts[server.id, "failed"]
            server.converter_other_count_24h = counts[server.id, "other"]

    @api.depends("converter_log_ids.state")
    def _compute_converter_graph(self):
        groups = self._converter_log_state_groups()
        today = fields.Date.context_today(self)
        days = [today - timedelta(days=n) for n in range(GRAPH_DAYS - 1, -1, -1)]
        counts = Counter()
        if self.ids:
            for server, day, state, count in self.env["mail.converter.log"]._read_group(
                [
                    ("server_id", "in", self.ids),
                    ("create_date", ">=", fields.Datetime.now() - timedelta(days=GRAPH_DAYS + 1)),
                ],
                ["server_id", "create_date:day", "state"],
                ["__count"],
            ):
                day = day.date() if hasattr(day, "date") else day
                counts[server.id, day, groups.get(state, "other")] += count
        labels = [format_date(self.env, day, date_format="d MMM") for day in days]
        series = [
            ("done", self.env._("Converted")),
            ("failed", self.env._("Failed")),
            ("other", self.env._("Skipped")),
        ]
        for server in self:
            server.converter_graph = json.dumps(
                {
                    "labels": labels,
                    "series": [
                        {
                            "key": key,
                            "label": label,
                            "values": [counts[server.id, day, key] for day in days],
                        }
                        for key, label in series
                    ],
                }
            )

    @api.depends(
        "use_converter",
        "active",
        "state",
        "check_interval",
        "date",
        "converter_last_run",
        "converter_last_error_date",
        "converter_failure_count",
    )
    def _compute_converter_next_run(self):
        cron = self.env.ref("mail.ir_cron_mail_gateway_action", raise_if_not_found=False)
        cron = cron.sudo() if cron else cron
        for server in self:
            running = server.use_converter and server.active and server.state == "done"
            if not (running and cron and cron.active and cron.nextcall):
                server.converter_next_run = False
                continue
            next_call, due = cron.nextcall, server._converter_due_at()
            step = _intervalTypes[cron.interval_type](cron.interval_number)
            # The scheduler's first run at which the mailbox is due (the same minute of slack).
            for _i in range(10000):
                if not due or due <= next_call + timedelta(minutes=1):
                    break
                next_call += step
            server.converter_next_run = next_call

    def _converter_base_interval(self):
        """Minutes between two runs: the mailbox's check interval, else the mail scheduler's."""
        self.ensure_one()
        if self.check_interval:
            return self.check_interval
        cron = self.env.ref("mail.ir_cron_mail_gateway_action", raise_if_not_found=False)
        if not cron:
            return 5
        cron = cron.sudo()
        now = fields.Datetime.now()
        step = _intervalTypes[cron.interval_type](cron.interval_number)
        return max(int((now + step - now).total_seconds() // 60), 1)

    def _converter_backoff(self):
        """How long to wait after ``converter_failure_count`` failures in a row: the interval,
        doubled at each further failure, at most BACKOFF_MAX_FACTOR times it."""
        self.ensure_one()
        failures = max(self.converter_failure_count, 1)
        factor = min(2 ** (failures - 1), BACKOFF_MAX_FACTOR)
        return timedelta(minutes=self._converter_base_interval() * factor)

    def _converter_due_at(self):
        """When the mailbox is next due; ``False`` when it is due at every scheduler run."""
        self.ensure_one()
        if self.converter_last_error and self.converter_last_error_date:
            return self.converter_last_error_date + self._converter_backoff()
        last = self.converter_last_run or self.date
        if self.check_interval and last:
            return last + timedelta(minutes=self.check_interval)
        return False

    def _converter_record_success(self):
        """A run went through: forget the failure series and close the alert."""
        if self.converter_alert_sent:
            self._converter_close_alert()
        healthy = {
            "error_date": False,
            "error_message": False,
            "converter_last_error": False,
            "converter_last_error_date": False,
            "converter_failing_since": False,
            "converter_failure_count": 0,
            "converter_alert_sent": False,
        }
        # Written only when it changes: a healthy mailbox's quiet run writes nothing.
        if any(self[name] != value for name, value in healthy.items()):
            self.write(healthy)

    def _converter_record_error(self, exc):
        """Show the failure on the mailbox, back off, and tell its responsible after a day."""
        message = tools.exception_to_unicode(exc)
        now = fields.Datetime.now()
        since = self.converter_failing_since or now
        self.write(
            {
                "error_date": self.error_date or now,
                "error_message": message,
                "converter_last_error": message,
                "converter_last_error_date": now,
                "converter_failing_since": since,
                "converter_failure_count": self.converter_failure_count + 1,
            }
        )
        if not self.converter_alert_sent and since <= now - ALERT_AFTER:
            self._converter_send_alert()

    def _converter_alert_users(self):
        """Who is told that the mailbox keeps failing; override to tell someone else."""
        self.ensure_one()
        if self.converter_responsible_id:
            return self.converter_responsible_id
        return (
            self.env.ref("base.group_system")
            .sudo()
            .all_user_ids.filtered(lambda u: u.active and not u.share)
        )

    def _converter_send_alert(self):
        """One to-do per responsible for the whole failure series, never one per run."""
        self.ensure_one()
        note = self.env._(
            "The mail converter could not read %(mailbox)s since %(since)s: %(error)s",
            mailbox=self.name,
            since=self.converter_failing_since,
            error=self.converter_last_error,
        )
        for user in self._converter_alert_users():
            try:
                with self.env.cr.savepoint():
                    self.sudo().activity_schedule(
                        "mail.mail_activity_data_warning",
                        summary=self.env._("Mailbox %(mailbox)s is failing", mailbox=self.name),
                        note=note,
                        user_id=user.id,
                    )
            except Exception:  # noqa: BLE001 - the alert must never hide the error itself
                _logger.warning(
                    "Mail converter: could not alert %s about %s",
                    user.login,
                    self.name,
                    exc_info=True,
                )
        self.converter_alert_sent = True

    def _converter_close_alert(self):
        """The mailbox recovered: its failure to-dos are done."""
        warning = self.env.ref("mail.mail_activity_data_warning", raise_if_not_found=False)
        activities = self.sudo().activity_ids.filtered(
            lambda a: warning and a.activity_type_id == warning
        )
        if activities:
            activities.action_feedback(
                feedback=self.env._("The mailbox works again: %(date)s", date=fields.Datetime.now())
            )

    def action_import_archive(self):
        """Open the archive import for this mailbox."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_converter.action_mail_converter_import_wizard"
        )
        action["context"] = {"default_server_id": self.id}
        return action

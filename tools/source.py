"""Where an email comes from: its mailbox's settings and the copy on the server.

Both are plain frozen values, read from the database once per mailbox run
(``fetchmail.server._converter_source``), never per email: each batch commit
empties the ORM cache, and reading settings again would cost queries on the
hot path. No Odoo import.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass(frozen=True)
class TagPattern:
    """An ID tag: a compiled (RE2) pattern and the field of the record it names."""

    id: int
    name: str
    regex: object  # compiled by tools.safe_regex
    model: str
    field_name: str
    field_type: str  # char or integer
    search_body: bool = True


@dataclass(frozen=True)
class MailboxSource:
    """A converter mailbox's settings, rules and tag patterns for one run."""

    server_id: int
    name: str = ""
    company_id: int = 0
    model: str | None = None  # "Create a New Record": None files unclaimed mail on its records
    save_original: bool = False
    strip_attachments: bool = False
    max_attempts: int = 5
    only_linked: bool = False
    contact_creation_addresses: frozenset = frozenset()
    create_outbound_contacts: bool = False
    link_company_by_domain: bool = True
    excluded_addresses: frozenset = frozenset()
    default_user_id: int = 0
    activation_date: datetime | None = None
    # The mailbox's own addresses (its login, its reply address): never a customer.
    own_addresses: frozenset = frozenset()
    tag_patterns: tuple = ()  # TagPattern
    rules: tuple = ()  # tools.rules.Rule, already limited to this mailbox
    # -- special mail: bounces, BCC logging, certified mail (PEC) --
    remove_bounced_address: bool = True
    bcc_logging: bool = False
    bcc_representatives: tuple = ()  # tools.bcc.Representative
    bcc_accepted_senders: tuple = ()  # tools.bcc.AcceptedSender
    bcc_category_id: int = 0
    bcc_reply_from: str = ""  # From of the explanations mailed back
    is_pec: bool = False
    # -- helpdesk workflow (issue 10): bans, acknowledgements, follow-ups --------------
    bans: tuple = ()  # tools.bans.Ban, active bans of this mailbox's company
    reply_email: str = ""  # the mailbox's address: acknowledgements and replies come from it
    auto_reply_template_id: int = 0  # mail.template of the acknowledgement; 0 sends none
    auto_reply_limit: int = 3  # acknowledgements per sender per hour, across all mailboxes
    auto_reply_hourly_cap: int = 30  # acknowledgements + BCC explanations per mailbox and hour
    # A reply within this many days of a ticket's closing reopens it, later opens a new one;
    # 0: never reopen (the team's mail_converter_reopen_days overrides it)
    reopen_days: int = 14
    cc_followers: str = "known"  # no, known, all: Cc recipients who become followers
    # Addresses of every converter mailbox: mail from them never gets an acknowledgement.
    mailbox_addresses: frozenset = frozenset()
    # -- end helpdesk workflow ---------------------------------------------------------
    # -- security (issue 9 part B): hostile input and ID-tag trust --------------------
    max_message_size: int = 0  # bytes; a larger email is logged "rejected", never converted
    trust_company_domain: bool = False  # ID tags: the customer's colleagues belong to its records
    # -- end security ----------------------------------------------------------------------
    # Room for the settings later stages read (auto-reply, bounces, BCC, PEC...).
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    # tools.run_cache.RunCache: answers that do not change during this run (one per source)
    run_cache: object = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Origin:
    """One copy of an email: the folder it was found in and its number there."""

    folder_id: int = 0
    direction: str = "inbound"  # inbound, outbound
    after_action: str = "keep"
    uid: int = 0  # IMAP
    uidl: str = ""  # POP3
    uidvalidity: int = 0
    received: datetime | None = None  # IMAP INTERNALDATE, when the server gave one
    backlog: bool = False  # imported from a file: never gets automatic replies
    size: int = 0  # bytes, as the mail server announced them (0: unknown, the raw's length counts)

    def for_message(self, **changes):
        """This origin for another message of the same folder."""
        return replace(self, **changes)

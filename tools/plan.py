"""The plan: what the converter will do with one email, decided before anything is written.

The planner (``mail.converter.planner``) fills a :class:`Plan` stage by stage
without writing; the pipeline (``mail.converter``) applies it; the simulator
shows the very same plan. So the simulator and the pipeline cannot disagree.
No Odoo import.
"""

from dataclasses import dataclass, field

# Final states of a log row; "failed" is the pipeline's, never a plan's. A plan says "duplicate"
# only in the simulator: the pipeline logs a copy it already holds before reading it.
PLAN_STATES = ("done", "discarded", "rejected", "bounce", "duplicate")


@dataclass
class Mail:
    """One email as the planner reads it: raw bytes, headers, Odoo's parse, addresses and matches."""

    raw: bytes
    summary: object  # tools.mime.MailSummary
    message: object  # email.message.EmailMessage
    msg_dict: dict  # mail.thread.message_parse
    matches: object  # tools.matcher.MatchResult
    origin: object  # tools.source.Origin
    repairs: list = field(default_factory=list)  # charset repairs, reported on the log
    # Certified mailbox: the PEC envelope (tools.pec.Pec); the fields above describe its inner message.
    pec: object = None
    size: int = 0  # bytes, as the mail server delivered it (the envelope of a PEC)
    log_id: int = 0  # the log row converting this very copy (the pipeline's, or a replayed one)
    sender_auth: object = None  # tools.sender_auth.SenderAuth
    budget: object = None  # tools.budget.Budget: this email's time budget


class MailDeferred(Exception):  # noqa: N818 - a signal, not an error
    """Raised instead of sending mail while planning: what Odoo would have sent, for apply."""

    def __init__(self, values):
        super().__init__(values.get("email_to") or "")
        self.values = values


@dataclass
class Route:
    """Where the email is posted: an existing record, or a new one made with ``values``."""

    model: str
    res_id: int = 0  # 0: a new record
    values: dict = field(default_factory=dict)  # default values of a new record
    new_contact: str = ""  # the contact this plan creates for that address (res_id is then 0)
    why: str = ""

    @property
    def creates(self):
        return not self.res_id and not self.new_contact

    def key(self):
        """``(model, res_id or "new")`` for comparing a plan with its outcome."""
        return self.model, self.res_id or ("new:" + self.new_contact if self.new_contact else "new")


@dataclass
class NewContact:
    """A contact the plan creates for an address, joined to a company when its domain names one."""

    address: object  # tools.addresses.Address
    company_id: int = 0
    company_name: str = ""


@dataclass
class Decision:
    """A yes/no decision with its reason (auto-reply, explanation mail, ...)."""

    yes: bool = False
    reason: str = ""
    detail: dict = field(default_factory=dict)


@dataclass
class Plan:
    state: str = "done"
    reason: str = ""
    kind: str = "mail"  # mail, bounce, bcc, pec, pec_receipt
    final: bool = False  # no further stage changes the outcome
    route: Route | None = None
    contacts: list = field(default_factory=list)  # NewContact
    links: list = field(
        default_factory=list
    )  # tools.matcher.Link; res_id 0 for a contact to create
    rule: object = None  # tools.rules.Rule that decides, or None
    verdicts: list = field(default_factory=list)  # one line per rule
    private: bool = False
    private_reasons: list = field(default_factory=list)
    # (what was checked, reasons) of the last look at the flags of the records it concerns
    flag_reasons: tuple = ()
    author_id: int = 0  # the contact who wrote it, when the addresses tell
    author_new_contact: str = ""  # ...or the contact this plan creates
    assignee_id: int = 0  # responsible of a new record
    activity: dict | None = None  # {"user_id", "summary"} for the activity action
    followup: bool = False  # a follow-up on an existing conversation
    notes: list = field(default_factory=list)  # shown in the log's reason and the simulator
    stages: list = field(default_factory=list)  # (stage, what it decided), for the simulator
    auto_reply: Decision = field(default_factory=Decision)
    # -- helpdesk workflow --
    ban_id: int = 0  # the mail.converter.ban that rejected the sender
    reopen_stage_id: int = 0  # a follow-up moves its closed ticket back to this stage
    followup_of_id: int = 0  # a reply long after the closing: the new ticket continues this one
    customer_followup: bool = False  # the customer (not a colleague) followed up: flag the ticket
    cc_follower_ids: list = field(default_factory=list)  # Cc contacts who become followers
    cc_follower_new: list = field(default_factory=list)  # ...and Cc addresses of new contacts
    calendar_answer: tuple = ()  # (calendar.attendee id, state) an invitation answer sets
    # -- decided here, carried out by apply --
    too_large: bool = False  # rejected for its size: never deleted from the mail server
    loop_notice: dict | None = None  # Odoo's mail telling a looping sender, sent by apply
    reset_bounce: bool = True  # mail from the sender proves its address: reset bounce counters
    explained: list = field(default_factory=list)  # what stages decided besides the outcome
    # Room for the special kinds of mail: filled by their own stages.
    bounce: object = None  # BouncePlan
    bcc: object = None  # BccPlan
    pec: object = None  # PecPlan

    def finish(self, state, reason):
        """End the plan with ``state``; later stages see ``final`` and leave it alone."""
        assert state in PLAN_STATES, state
        self.state, self.reason, self.final = state, reason, True
        self.route = None
        return self

    def explain(self, text):
        """Record a decision that does not change the outcome, for the simulator's stages."""
        if text:
            self.explained.append(text)

    def note(self, text):
        if text and text not in self.notes:
            self.notes.append(text)

    def outcome_key(self):
        """What the plan promises, comparable with a log row: state, route and privacy."""
        return (self.state, self.route.key() if self.route else None, self.private)


# -- special mail: bounces, BCC logging, certified mail (PEC) -------------------------------------
@dataclass
class BounceHolder:
    """A record holding a hard-bounced address, which the plan removes from it."""

    model: str
    res_id: int
    field_name: str  # email (contacts), email_from (leads)
    email: str
    name: str = ""


@dataclass
class BouncePlan:
    """A delivery failure report: who bounced, how hard, and what the mailbox does about it."""

    recipients: list = field(default_factory=list)  # tools.bounce.Recipient
    hard: list = field(default_factory=list)  # addresses to remove and blocklist
    remove: bool = True  # the mailbox's remove_bounced_address
    holders: list = field(default_factory=list)  # BounceHolder
    original_message_ids: list = field(default_factory=list)  # of the returned message
    original_id: int = 0  # the mail.message that bounced, when Odoo has it
    confirmed: list = field(default_factory=list)  # bounced addresses our sent message went to
    company_id: int = 0  # the sent message's company: cleaning stays within it

    @property
    def ours(self):
        """A bounce of mail this database sent to (one of) the bounced addresses."""
        return bool(self.confirmed) or not self.recipients

    @property
    def bounce_class(self):
        if not self.recipients:
            return ""
        return "hard" if any(r.hard for r in self.recipients) else "soft"


@dataclass
class BccPlan:
    """An email BCC'd to a logging address: who sent it and where it is logged, or why not."""

    representative_id: int = 0  # res.users
    representative_name: str = ""
    record_name: str = ""
    category_id: int = 0  # contact tag the record gets
    sender: str = ""  # normalised From
    explanation: Decision = field(default_factory=Decision)  # the mail back to the sender


@dataclass
class PecPlan:
    """Certified mail: a message from its real sender, or a provider's receipt."""

    kind: str = ""  # tools.pec.Pec.kind
    sender: str = ""
    receipt_type: str = ""
    reference: str = ""  # X-Riferimento-Message-ID

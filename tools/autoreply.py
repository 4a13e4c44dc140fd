"""Whether an email may get an automatic reply (RFC 3834), without Odoo.

An acknowledgement sent to a robot (an autoresponder, a mailing list, a
bounce) is how mail loops start. These checks follow RFC 3834 and what
ticket systems such as Zammad and Znuny look at. Each returns the reason an
automatic reply must not be sent, or ``None``.
"""

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from .addresses import normalize_email

# Local parts of senders that are robots by convention; never answered.
ROBOT_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "do_not_reply",
        "bounce",
        "bounces",
    }
)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})
# Headers whose mere presence marks mail from a robot or a list.
_PRESENCE_HEADERS = (
    ("list-id", "mailing list (List-Id)"),
    ("list-unsubscribe", "mailing list (List-Unsubscribe)"),
    ("x-loop", "X-Loop header (already looped through a mail system)"),
    ("x-autoreply", "X-Autoreply header"),
    ("x-autorespond", "X-Autorespond header"),
)


def robot_reason(headers):
    """Why ``headers`` (lower-case names, decoded first values) mark automatic or bulk mail.

    ``None`` when a person may have written it.
    """
    headers = {k.lower(): (v or "").strip() for k, v in (headers or {}).items()}
    auto_submitted = headers.get("auto-submitted", "")
    if auto_submitted and auto_submitted.split(";", 1)[0].strip().lower() != "no":
        return f"Auto-Submitted: {auto_submitted[:40]}"
    precedence = headers.get("precedence", "").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name, reason in _PRESENCE_HEADERS:
        if name in headers:
            return reason
    suppress = headers.get("x-auto-response-suppress")
    # Exchange's "None" asks nothing to be suppressed; any other value asks for silence.
    if suppress is not None and suppress.lower() != "none":
        return f"X-Auto-Response-Suppress: {suppress[:40]}"
    if headers.get("return-path", "").replace(" ", "") == "<>":
        return "empty Return-Path (automatic mail)"
    return None


def robot_sender_reason(email):
    """Why the sender address ``email`` (normalised) belongs to a robot, or ``None``."""
    local = (email or "").partition("@")[0].lower()
    if local in ROBOT_LOCAL_PARTS:
        return f"robot sender {email}"
    return None


def reply_address(headers, sender):
    """Where an automatic reply to the email goes (RFC 3834 section 4): the address of its
    ``Return-Path`` when it has one, else ``sender`` (its From); ``""`` for a null one.

    A mailing list or a mailing service puts its own (VERP) address there: the reply goes
    to whoever takes delivery problems, never to a From that may not be the real sender.
    """
    value = (headers or {}).get("return-path")
    if value is None or not value.strip():
        return sender or ""
    if value.replace(" ", "") == "<>":
        return ""
    return normalize_email(value) or sender or ""


def parse_date(value):
    """The naive UTC datetime of a ``Date`` header, or ``None`` when it is missing or broken."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def mail_date(date_header, received=None):
    """When an email was written or received, whichever is older (naive UTC), or ``None``.

    The ``Date`` header is set by the sender and may be missing; the IMAP
    internal date is set by the server. The older one decides whether mail
    predates the mailbox's activation.
    """
    dates = [d for d in (parse_date(date_header), _naive_utc(received)) if d]
    return min(dates) if dates else None


def _naive_utc(value):
    if value is None or not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value

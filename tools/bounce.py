"""Delivery failure reports (bounces): who bounced, hard or soft, and why. No Odoo import.

``flufl.bounce`` (GNU Mailman's detectors: RFC 3464 DSNs, qmail, Exim, Postfix,
Exchange, Microsoft, Yahoo, AOL, SimpleMatch...) finds the failed addresses and
says whether each failure is temporary or permanent. Where the report is a
standard DSN, each recipient's ``Status`` decides the class instead; in the
plain-text formats the enhanced status code (``5.1.1``) or SMTP reply near the
address does, when the MTA wrote one.
"""

import email
import re
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr

import re2
from flufl.bounce import all_failures

from .addresses import normalize_email

# Senders that are mail systems, not people.
DAEMON_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mail.daemon"}
)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|has failed|failed|incomplete)"
    r"|failure notice|returned mail|mail delivery failed|could not be delivered"
    r"|non[- ]?remis|unzustellbar|non recapitabile|mail system error",
    re.IGNORECASE,
)
_ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY_CODE_RE = re.compile(r"(?<!\d)([45])(\d\d)(?=[\s-])")
_QUOTA_RE = re.compile(
    r"mailbox (is )?full|over ?quota|quota exceeded|exceeded (his|her|its|the) (storage|quota)"
    r"|insufficient (system )?storage",
    re.IGNORECASE,
)
# RE2, linear in the text: with Python's re, "^\s*" over a run of blank lines was quadratic
# (42 s for a 40 KB forged report, before bans are even checked).
_MSGID_LINE_RE = re2.compile(
    r"(?im)^[ \t]*(message-id|references|in-reply-to|x-microsoft-original-message-id):[ \t]*(.+)$"
)
_MSGID_RE = re2.compile(r"<[^<>\s@]+@[^<>\s]+>")
# RFC 3463: X.2.2 (mailbox full) is a persistent transient failure, whatever its class digit.
TRANSIENT_SUBJECTS = frozenset({(2, 2)})
MAX_DIAGNOSTIC = 300
_SPECIALS_RE = re.compile(r'[()<>\[\]:;@\\,."]')


@dataclass(frozen=True)
class Recipient:
    """One address a delivery report names, with its class and why."""

    email: str
    hard: bool
    status: str = ""  # enhanced status code, e.g. 5.1.1
    action: str = ""  # DSN Action: failed, delayed
    diagnostic: str = ""  # the remote server's answer, or the report's text about it


@dataclass
class BounceReport:
    """What a delivery report says: the recipients it names and the message that bounced."""

    recipients: list = field(default_factory=list)  # Recipient
    original_message_ids: list = field(default_factory=list)  # of the returned message
    standard: bool = False  # an RFC 3464 delivery-status report

    @property
    def hard(self):
        return [r for r in self.recipients if r.hard]

    @property
    def soft(self):
        return [r for r in self.recipients if not r.hard]


def looks_automated(message):
    """Whether ``message`` may be a delivery report: sent by a mail system, not typed by a person.

    The heuristic detectors read free text; running them only on mail from a
    mail system keeps a customer who quotes a bounce from losing an address.
    """
    try:
        return _looks_automated(message)
    except Exception:  # noqa: BLE001 - unreadable headers: treated as ordinary mail
        return False


def _looks_automated(message):
    if message.get_content_type() == "multipart/report":
        return True
    if message.get("x-failed-recipients"):
        return True
    sender = parseaddr(str(message.get("from", "")))[1].lower()
    if sender.partition("@")[0] in DAEMON_LOCAL_PARTS:
        return True
    if str(message.get("return-path", "")).replace(" ", "") == "<>":
        return True
    auto = str(message.get("auto-submitted", "")).strip().lower()
    subject = str(message.get("subject", ""))
    return bool(auto and auto != "no" and _BOUNCE_SUBJECT_RE.search(subject)) or bool(
        _BOUNCE_SUBJECT_RE.search(subject) and "microsoftexchange" in sender
    )


def parse(raw):
    """``raw`` bytes as the detectors expect them (the compat32 policy they were written for)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return email.message_from_bytes(raw)


def detect(raw):
    """The :class:`BounceReport` of ``raw`` (bytes), or ``None`` when it reports no failure.

    Never raises on bad input: a report that cannot be read is not a bounce.
    """
    try:
        message = parse(raw)
        if not looks_automated(message):
            return None
        return _report(message)
    except Exception:  # noqa: BLE001 - malformed reports are logged as ordinary mail
        return None


def _report(message):
    dsn = _dsn_recipients(message)
    temporary, permanent = all_failures(message)
    found = {r.email: r for r in dsn}
    text = None
    for raw_address, hard in [(a, False) for a in sorted(temporary)] + [
        (a, True) for a in sorted(permanent)
    ]:
        address = normalize_email(raw_address.decode("ascii", "replace"))
        if not address or address in found:
            continue
        if text is None:
            text = _body_text(message)
        status, diagnostic = _near_address(text, address)
        diagnostic = diagnostic or _clean(str(message.get("subject", "")))
        found[address] = Recipient(
            email=address,
            hard=classify(status, "", diagnostic, hard),
            status=status,
            diagnostic=diagnostic,
        )
    if not found:
        return None
    return BounceReport(
        recipients=list(found.values()),
        original_message_ids=_original_message_ids(message),
        standard=bool(dsn),
    )


def classify(status, action, text, permanent):
    """``True`` for a hard bounce, from the best evidence available.

    The enhanced status code wins (5.x.x hard, 4.x.x soft, X.2.2 mailbox full
    soft); then the DSN action (failed, delayed); then an SMTP reply code or a
    full-mailbox phrase in the text; then what the detector said.
    """
    found = _ENHANCED_RE.search(status or "") or _ENHANCED_RE.search(text or "")
    if found:
        klass, subject = found.group(1), (int(found.group(2)), int(found.group(3)))
        if subject in TRANSIENT_SUBJECTS:
            return False
        if klass in ("4", "5"):
            return klass == "5"
    action = (action or "").lower()
    if action.startswith("delayed"):
        return False
    if action.startswith(("fail", "error")):
        return True
    if text and _QUOTA_RE.search(text):
        return False
    reply = _REPLY_CODE_RE.search(text or "")
    if reply:
        return reply.group(1) == "5" and reply.group(0) != "552"
    return permanent


def _dsn_recipients(message):
    """Recipients of the ``message/delivery-status`` parts that failed or were delayed."""
    recipients = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload()[1:] if len(part.get_payload()) > 1 else []:
            action = str(block.get("action", "")).strip().lower()
            if not action.startswith(("fail", "error", "delayed")):
                continue  # delivered, relayed, expanded: not a failure
            address = ""
            for header in ("final-recipient", "original-recipient", "x-actual-recipient"):
                value = str(block.get(header, ""))
                address = normalize_email(value.rpartition(";")[2])
                if address:
                    break
            if not address:
                continue
            status = _ENHANCED_RE.search(str(block.get("status", "")))
            status = status.group(0) if status else ""
            diagnostic = _clean(str(block.get("diagnostic-code", "")).partition(";")[2])
            recipients.append(
                Recipient(
                    email=address,
                    hard=classify(status, action, diagnostic, action.startswith("fail")),
                    status=status,
                    action=action.split()[0] if action else "",
                    diagnostic=diagnostic,
                )
            )
    return recipients


def _body_text(message):
    """The report's human-readable text: its text parts, before any returned message."""
    chunks = []
    for part in _walk_report(message):
        if part.get_content_maintype() == "text" and part.get_content_type() != (
            "text/rfc822-headers"
        ):
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                chunks.append(payload.decode(charset, "replace"))
            except LookupError:
                chunks.append(payload.decode("utf-8", "replace"))
    return "\n".join(chunks)


def _walk_report(message):
    """Parts of ``message`` without descending into returned messages."""
    yield message
    if message.is_multipart() and message.get_content_type() != "message/rfc822":
        for part in message.get_payload():
            if part.get_content_type() != "message/rfc822":
                yield from _walk_report(part)


def _near_address(text, address):
    """Status code and diagnostic the text gives about ``address``: its paragraph."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if address in line.lower():
            paragraph = [line]
            for following in lines[index + 1 : index + 9]:
                if following.lstrip().startswith("---"):
                    break
                if not following.strip():
                    # A bare address line: its explanation is the next paragraph.
                    if len(paragraph) > 1:
                        break
                    continue
                paragraph.append(following)
            joined = " ".join(paragraph)
            status = _ENHANCED_RE.search(joined)
            return (status.group(0) if status else ""), _clean(joined)
    return "", ""


def _clean(text):
    return re.sub(r"\s+", " ", text or "").strip()[:MAX_DIAGNOSTIC]


def _original_message_ids(message):
    """Message-ID, then References (newest first) of the message that bounced."""
    found = []
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822" and part.is_multipart():
            returned = part.get_payload(0)
            values = [
                returned.get(name, "")
                for name in ("message-id", "x-microsoft-original-message-id", "in-reply-to")
            ]
            values.append(
                " ".join(reversed(_MSGID_RE.findall(str(returned.get("references", "")))))
            )
            found += _ids(values)
        elif ctype == "text/rfc822-headers":
            headers = email.message_from_bytes(part.get_payload(decode=True) or b"")
            found += _ids(
                [headers.get("message-id", ""), headers.get("in-reply-to", "")]
                + list(reversed(_MSGID_RE.findall(str(headers.get("references", "")))))
            )
    if not found:
        # Plain-text formats quote the returned message's headers in the body.
        own = str(message.get("message-id", "")).strip()
        for _name, value in _MSGID_LINE_RE.findall(_returned_text(message)):
            found += [m for m in _MSGID_RE.findall(value) if m != own]
    unique = []
    for message_id in found:
        if message_id not in unique:
            unique.append(message_id)
    return unique


def _ids(values):
    return [m for value in values for m in _MSGID_RE.findall(str(value or ""))]


def _returned_text(message):
    chunks = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True) or b""
            chunks.append(payload.decode("utf-8", "replace"))
    return "\n".join(chunks)


def remove_address(value, address):
    """``value`` (an email field: one address or a list) without ``address``; ``""`` when none is left."""
    kept = []
    for name, raw in getaddresses([value or ""]):
        if not raw or normalize_email(raw) == address:
            continue
        kept.append(_format_address(name, raw))
    return ", ".join(kept)


def holds_address(value, address):
    """Whether the email field ``value`` holds ``address`` (normalised), alone or in a list."""
    return any(normalize_email(raw) == address for _name, raw in getaddresses([value or ""]))


def _format_address(name, address):
    """``Name <address>``, quoting the name when it needs it; never RFC 2047 (it is stored text)."""
    if not name:
        return address
    if _SPECIALS_RE.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"

"""Cheap, defensive look at a raw RFC 822 message: the dedupe key and log summary.

Only the header block is parsed here; the full MIME parse is Odoo's
``mail.thread.message_parse``. Nothing in this module raises on bad input.
"""

import codecs
import email
import email.errors
import email.header
import email.parser
import email.policy
import hashlib
import re
from dataclasses import dataclass, field

_MSGID_RE = re.compile(r"<[^<>\s]+>")
_KEY_HEADERS = ("from", "to", "cc", "date", "subject")
ADDRESS_HEADERS = ("from", "to", "cc", "delivered-to", "bcc")
_HEADER_SPLIT_RE = re.compile(rb"\r?\n\r?\n")
_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass
class MailSummary:
    """What the log needs to know about a message before converting it."""

    key: str
    message_id: str | None
    email_from: str = ""
    subject: str = ""
    date: str = ""
    headers: dict = field(default_factory=dict)  # first value of each header, decoded
    address_headers: dict = field(
        default_factory=dict
    )  # every value of From/To/Cc/Delivered-To/Bcc


def decode_header_value(value):
    """Decode RFC 2047 words; undecodable bytes become U+FFFD, never an error."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    try:
        parts = email.header.decode_header(value)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        return str(value)
    text = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            try:
                chunk = chunk.decode(charset or "ascii", errors="replace")
            except LookupError:
                chunk = chunk.decode("utf-8", errors="replace")
        text.append(chunk)
    return re.sub(r"\s+", " ", "".join(text)).strip()


def normalize_message_id(value):
    """Return ``<id@host>`` from a Message-ID header, or None when there is none."""
    if not value:
        return None
    value = decode_header_value(value)
    found = _MSGID_RE.search(value)
    if found:
        return found.group(0)
    value = value.strip().strip("<>").strip()
    if not value or any(c.isspace() for c in value):
        return None
    return f"<{value}>"


def _body_bytes(raw):
    parts = _HEADER_SPLIT_RE.split(raw, maxsplit=1)
    body = parts[1] if len(parts) == 2 else b""
    # Transports disagree on line endings and trailing blank lines.
    return body.replace(b"\r\n", b"\n").rstrip()


def message_key(message_id, headers, raw):
    """The exactly-once key: the Message-ID, or a hash of stable headers and body.

    The hash leaves out transport headers (Received, Delivered-To, Return-Path)
    so two copies of one email delivered to two mailboxes share a key.
    """
    if message_id:
        return message_id.lower()
    digest = hashlib.sha256()
    for name in _KEY_HEADERS:
        digest.update(
            name.encode() + b":" + (headers.get(name) or "").encode("utf-8", "replace") + b"\n"
        )
    digest.update(_body_bytes(raw))
    return "sha256:" + digest.hexdigest()


def summarize(raw):
    """Parse the header block of ``raw`` (bytes) into a :class:`MailSummary`."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    try:
        msg = _PARSER.parsebytes(raw)
        headers, address_headers = {}, {}
        for name, value in msg.items():
            lname = name.lower()
            if lname not in headers:
                headers[lname] = decode_header_value(value)
            if lname in ADDRESS_HEADERS:
                address_headers.setdefault(lname, []).append(str(value))
    except Exception:  # noqa: BLE001 - a broken header block is still a message to keep
        headers, address_headers = {}, {}
    message_id = normalize_message_id(headers.get("message-id"))
    return MailSummary(
        key=message_key(message_id, headers, raw),
        message_id=message_id,
        email_from=headers.get("from", "")[:512],
        subject=headers.get("subject", "")[:512],
        date=headers.get("date", ""),
        headers=headers,
        address_headers=address_headers,
    )


def _charset_known(charset):
    try:
        codecs.lookup(charset)
    except (LookupError, ValueError):
        return False
    return True


def repair_charsets(message):
    """Relabel parts whose declared charset Python does not know; return what was changed.

    The bytes are kept: UTF-8 when they decode as such, else Windows-1252, the
    usual truth behind a mislabelled Western European message.
    """
    notes = []
    for part in message.walk():
        if part.is_multipart():
            continue
        charset = part.get_param("charset")
        if not charset or not isinstance(charset, str) or _charset_known(charset):
            continue
        payload = part.get_payload(decode=True) or b""
        try:
            payload.decode("utf-8")
            guess = "utf-8"
        except UnicodeDecodeError:
            guess = "windows-1252"
        part.set_param("charset", guess)
        notes.append(f"unknown charset {charset!r} read as {guess}")
    return notes

"""Cheap, defensive look at a raw RFC 822 message: the dedupe key and log summary.

Only the header block is parsed here; the full MIME parse is Odoo's
``mail.thread.message_parse``. Nothing in this module raises on bad input.

Hostile headers are cut before anything decodes them: the standard library
decodes RFC 2047 words in quadratic time (a 2.8 MB subject took a minute), so
:func:`cap_headers` bounds each header and the header block, in one linear pass,
for this module and for Odoo's parser alike.
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
# Longest header kept (name and folded lines included): hundreds of recipients fit.
MAX_HEADER_LENGTH = 64 * 1024
# Longest header block kept; the headers after it are dropped.
MAX_HEADER_BLOCK = 1024 * 1024
# Addresses an email may list before the rest is ignored (tools.addresses.MAX_ADDRESSES).
MAX_ADDRESSES = 500
_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
# What is read of a message too large to be read whole: its header block, up to this.
HEAD_BYTES = 256 * 1024


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
    size: int = 0  # bytes of the raw message
    notes: list = field(default_factory=list)  # what was cut from hostile headers, for the log


def format_size(size):
    """``61 MB``, ``2 KB``: a size for people, rounded."""
    if size >= 1024 * 1024:
        return f"{round(size / (1024 * 1024))} MB"
    return f"{max(round(size / 1024), 1)} KB"


def _header_end(raw):
    """Index where the header block ends (its blank line included), or ``len(raw)``."""
    found = _HEADER_END_RE.search(raw)
    return found.end() if found else len(raw)


def header_block(raw, limit=HEAD_BYTES):
    """The header block of ``raw`` (its blank line included), at most ``limit`` bytes."""
    head = raw[:limit]
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            return head[: end + len(separator)]
    return head


def _headers(head):
    """``[(name, bytes)]`` of a header block, each header with its folded lines."""
    headers = []
    for line in head.splitlines(keepends=True):
        if not line.strip(b"\r\n"):
            break  # the blank line ending the block
        if headers and line[:1] in (b" ", b"\t"):
            headers[-1][1].append(line)
        else:
            headers.append((line.split(b":", 1)[0].strip()[:100], [line]))
    return [(name, b"".join(lines)) for name, lines in headers]


def cap_headers(
    raw, max_length=MAX_HEADER_LENGTH, max_block=MAX_HEADER_BLOCK, rewrite=None, rewrite_above=0
):
    """``(raw, notes)``: ``raw`` with every header cut to ``max_length`` bytes and the header
    block to ``max_block``, and what was cut. Normal mail comes back unchanged (the same object).

    ``rewrite(name, header)``, when given, returns a header's replacement, or ``None`` to keep
    it; it is offered the headers longer than ``rewrite_above`` or holding many comments.
    """
    end = _header_end(raw)
    head = raw[:end]
    if end <= (min(max_length, rewrite_above) if rewrite else max_length) and (
        head.count(b"(") <= 64
    ):
        return raw, []  # no header can be long enough to matter
    notes, out, size = [], [], 0
    for name, header in _headers(head):
        label = name.decode("ascii", "replace")
        if rewrite and (len(header) > rewrite_above or header.count(b"(") > 64):
            new = rewrite(label, header)
            if new is not None:
                header = new
                notes.append(f"header {label} rewritten as the list of its addresses")
        if len(header) > max_length:
            header = header[: max_length - 2].rstrip(b"\r\n") + b"\r\n"
            notes.append(f"header {label} longer than {format_size(max_length)}: cut")
        if size + len(header) > max_block:
            notes.append(f"header block longer than {format_size(max_block)}: the rest dropped")
            break
        out.append(header)
        size += len(header)
    return b"".join(out) + b"\r\n" + raw[end:], notes


def decode_header_value(value, limit=MAX_HEADER_LENGTH):
    """Decode RFC 2047 words of the first ``limit`` characters; undecodable bytes become
    U+FFFD, never an error."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    value = value[:limit]  # decoding is quadratic in the length: cut first
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
    end = _header_end(raw)
    head, notes = cap_headers(raw[:end])
    try:
        msg = _PARSER.parsebytes(head)
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
    if sum(v.count("@") for values in address_headers.values() for v in values) > MAX_ADDRESSES:
        notes.append(
            f"more than {MAX_ADDRESSES} addresses: only the first {MAX_ADDRESSES} are read"
        )
    return MailSummary(
        key=message_key(message_id, headers, raw),
        message_id=message_id,
        email_from=headers.get("from", "")[:512],
        subject=headers.get("subject", "")[:512],
        date=headers.get("date", ""),
        headers=headers,
        address_headers=address_headers,
        size=len(raw),
        notes=notes,
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

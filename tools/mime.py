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
import email.utils
import functools
import hashlib
import re
from dataclasses import dataclass, field

import re2

_MSGID_RE = re.compile(r"<[^<>\s]+>")
_KEY_HEADERS = ("from", "to", "cc", "date", "subject")
ADDRESS_HEADERS = ("from", "to", "cc", "delivered-to", "bcc")
_HEADER_SPLIT_RE = re.compile(rb"\r?\n\r?\n")
_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)

# Hostile input: limits applied to the raw header block *before* anything decodes it.
# Decoding RFC 2047 words is quadratic in Python (67 s for a 2.8 MB subject), and the
# stdlib's structured header parsers are slow on long address lists: a header longer
# than its limit is cut, so no crafted header can stall a run.
MAX_HEADERS = 1000  # header fields kept, in order
MAX_HEADER_VALUE = 16 * 1024  # bytes kept of one header field
MAX_ADDRESS_HEADER = 64 * 1024  # ... of From, To, Cc, Delivered-To, Bcc
_FIELD_NAME_RE = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_NAME_SPECIALS = frozenset("()<>,;:\\.[]")  # a display name holding one is quoted
# Hostile input: an email with more MIME parts than this is not parsed at all (100,000 tiny
# parts take a minute to parse and would make one attachment each); it stays on the server.
MAX_PARTS = 1000
# RE2: linear in the message, whatever it holds.
_BOUNDARY_RE = re2.compile(rb'(?i)boundary[ \t]*=[ \t]*"?([^";\r\n]{1,200})')
_DASH_LINE_RE = re2.compile(rb"(?m)^--([^\r\n]{1,202})")

# Headers parsed once: the standard library re-parses a header each time it is read, and
# Odoo's parser and the converter read each part's Content-Type a dozen times, From, To
# and Cc several times (about 1 ms an email for the address headers alone). A parsed
# header weighs about 200 times its text (12 KiB for a Content-Type line): only short
# headers are kept, and a bounded number, so that crafted headers cannot fill the memory.
HEADER_CACHE_SIZE = 512
MAX_CACHED_HEADER = 256  # characters


@functools.lru_cache(maxsize=HEADER_CACHE_SIZE)
def _parsed_header(name, value):
    return email.policy.SMTP.header_fetch_parse(name, value)


class _ParsedOnce:
    """Mixed into the ``email.policy.SMTP`` class in use: parsed MIME headers are kept.

    Parsed headers are immutable strings (their parameters and addresses read-only), so
    one parse serves every read of the same header text.
    """

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name") or len(value) > MAX_CACHED_HEADER:
            return super().header_fetch_parse(name, value)
        return _parsed_header(name, value)


@functools.lru_cache(maxsize=4)
def _parse_policy(smtp):
    # Odoo replaces email.policy.SMTP by its own subclass (no folding of Message-ID...):
    # the converter's policy is that class, with the same settings, reading headers once.
    cls = type(f"ParsedOnce{type(smtp).__name__}", (_ParsedOnce, type(smtp)), {})
    return cls(**{k: v for k, v in vars(smtp).items() if k != "header_factory"})


def parse_message(raw):
    """``raw`` as Odoo's gateway parses it (``email.policy.SMTP``), reading each header once."""
    return email.message_from_bytes(raw, policy=_parse_policy(email.policy.SMTP))


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
    limits: list = field(default_factory=list)  # which header limits cut this message


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


def decode_address_value(value):
    """An address header as text, with only its display names decoded: ``Name <a@b.c>, d@e.f``.

    The addresses are split out of the raw value first, so an encoded word can never
    become an address (``=?utf-8?q?rep=40ourcompany.com?= <x@evil.example>`` is
    ``x@evil.example``); a display name that reads as an address is dropped.
    """
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    try:
        pairs = email.utils.getaddresses([value])
    except (RecursionError, ValueError, IndexError):
        return decode_header_value(value) if "=?" not in value else ""
    listed = []
    for name, address in pairs:
        if not address:
            continue
        name = decode_header_value(name).replace('"', "")
        if not name or "@" in name:
            listed.append(address)
        elif _NAME_SPECIALS.isdisjoint(name):
            listed.append(f"{name} <{address}>")
        else:
            listed.append(f'"{name}" <{address}>')
    return ", ".join(listed)


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


def _split_header_block(raw):
    """``(header block, separator, body)`` of ``raw`` (a linear search for the first blank line)."""
    found = _HEADER_SPLIT_RE.search(raw)
    if found:
        return raw[: found.start()], raw[found.start() : found.end()], raw[found.end() :]
    return raw, b"", b""


def _header_fields(block):
    """The raw header fields of a header block, each with its continuation lines."""
    fields, current = [], []
    for line in block.splitlines(keepends=True):
        if current and line[:1] in (b" ", b"\t"):
            current.append(line)
            continue
        if current:
            fields.append(b"".join(current))
        current = [line]
    if current:
        fields.append(b"".join(current))
    return fields


def cap_headers(raw):
    """Return ``(raw, limits)``: ``raw`` with its header block cut to the limits above, and
    a note per limit applied (empty when the message was left as it is).

    Cut fields keep their name; the body is untouched. Runs in time linear in the
    size of the header block.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    block, separator, body = _split_header_block(raw)
    limits = []
    if len(block) <= MAX_HEADER_VALUE and block.count(b"\n") < MAX_HEADERS:
        return raw, limits  # the common case: nothing to look at
    fields = _header_fields(block)
    if len(fields) > MAX_HEADERS:
        limits.append(f"{len(fields)} header fields: only the first {MAX_HEADERS} kept")
        fields = fields[:MAX_HEADERS]
    kept = []
    for raw_field in fields:
        name = _FIELD_NAME_RE.match(raw_field)
        lname = name.group(1).decode("ascii").lower() if name else ""
        limit = MAX_ADDRESS_HEADER if lname in ADDRESS_HEADERS else MAX_HEADER_VALUE
        if len(raw_field) > limit:
            ending = b"\r\n" if raw_field.endswith(b"\r\n") else b"\n"
            cut = raw_field[:limit]
            if lname in ADDRESS_HEADERS and b"," in cut:
                cut = cut[: cut.rindex(b",")]  # whole addresses only
            limits.append(
                f"{lname or 'a'} header of {len(raw_field) // 1024} KiB cut to {limit // 1024} KiB"
            )
            raw_field = cut.rstrip(b"\r\n") + ending
        kept.append(raw_field)
    if not limits:
        return raw, limits
    block = b"".join(kept).rstrip(b"\r\n")
    return block + (separator or b"\r\n\r\n") + body, limits


def rewrite_headers(raw, rewrite, above=0, comments=64):
    """Return ``(raw, notes)``: each header field longer than ``above`` bytes or holding more
    than ``comments`` "(" is offered to ``rewrite(lname, field)``, which returns its
    replacement or ``None`` to keep it. Linear in the header block; ordinary mail comes back
    as it is (the same object)."""
    block, separator, body = _split_header_block(raw)
    if len(block) <= above and block.count(b"(") <= comments:
        return raw, []
    kept, notes = [], []
    for raw_field in _header_fields(block):
        if len(raw_field) > above or raw_field.count(b"(") > comments:
            name = _FIELD_NAME_RE.match(raw_field)
            lname = name.group(1).decode("ascii").lower() if name else ""
            new = rewrite(lname, raw_field)
            if new is not None:
                notes.append(f"{lname} header rewritten as the list of its addresses")
                raw_field = new
        kept.append(raw_field)
    if not notes:
        return raw, notes
    block = b"".join(kept).rstrip(b"\r\n")
    return block + (separator or b"\r\n\r\n") + body, notes


def count_parts(raw, stop=MAX_PARTS + 1):
    """The number of MIME parts of ``raw`` (bytes), counted without parsing it: the lines
    that open a part of a declared boundary. Linear in ``raw``; stops counting at ``stop``."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    boundaries = set()
    for found in _BOUNDARY_RE.finditer(raw):
        boundaries.add(found.group(1).strip())
        if len(boundaries) >= stop:
            return stop  # every multipart declares one: that many boundaries is that many parts
    if not boundaries:
        return 1
    count = 1
    for found in _DASH_LINE_RE.finditer(raw):
        line = found.group(1).rstrip(b" \t")
        if line in boundaries:  # a part opens; "--boundary--" closes a multipart
            count += 1
            if count >= stop:
                return stop
    return count


def summarize(raw):
    """Parse the header block of ``raw`` (bytes) into a :class:`MailSummary`.

    Headers are cut to the limits of :func:`cap_headers` before being decoded; the
    exactly-once key still hashes the whole body.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    size = len(raw)
    capped, limits = cap_headers(raw)
    block = _split_header_block(capped)[0]
    try:
        msg = _PARSER.parsebytes(block + b"\r\n\r\n")
        headers, address_headers = {}, {}
        for name, value in msg.items():
            lname = name.lower()
            if lname not in headers:
                headers[lname] = (
                    decode_address_value(value)
                    if lname in ADDRESS_HEADERS
                    else decode_header_value(value)
                )
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
        size=size,
        limits=limits,
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

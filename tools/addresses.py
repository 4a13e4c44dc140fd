"""Email addresses and display names, without Odoo.

Normalisation matches Odoo's ``email_normalized`` columns (lower case, no
display name), so a normalised address can be looked up there directly.
"""

import functools
import re
from dataclasses import dataclass
from email.utils import formataddr, getaddresses

from .mime import decode_header_value, rewrite_headers

# Roles in the order they are collected; earlier roles win for an address seen twice.
ROLES = ("from", "to", "cc", "delivered-to", "bcc")
# Characters never part of a bare address (besides "@", which must appear exactly once).
_NOT_IN_ADDRESS = frozenset(' \t\r\n\f\v<>(),;:"[]')
# Hostile input: a header longer than this is cut before it is parsed, and no email
# yields more addresses than this (one crafted header must not cost minutes).
MAX_HEADER_CHARS = 64 * 1024
MAX_ADDRESSES = 500
MAX_EMAIL_CHARS = 320  # RFC 3696: 64 for the local part, 255 for the domain
_COMMENT_RE = re.compile(r"\([^()]*\)")
_SPACES_RE = re.compile(r"\s+")

# Addresses anyone can get: their domain never identifies a company.
FREEMAIL_DOMAINS = frozenset(
    """
aol.com bluewin.ch btinternet.com comcast.net free.fr freenet.de gmail.com gmx.at gmx.ch gmx.com gmx.de
gmx.net googlemail.com hey.com hotmail.be hotmail.co.uk hotmail.com hotmail.de hotmail.es hotmail.fr
hotmail.it icloud.com inbox.ru laposte.net libero.it live.be live.co.uk live.com live.de live.fr live.it
live.nl mac.com mail.com mail.ru me.com msn.com naver.com orange.fr outlook.be outlook.com outlook.de
outlook.es outlook.fr outlook.it pm.me proton.me protonmail.ch protonmail.com qq.com rambler.ru
rediffmail.com sfr.fr seznam.cz t-online.de tiscali.it tutanota.com ukr.net virgilio.it wanadoo.fr
web.de yahoo.co.in yahoo.co.jp yahoo.co.uk yahoo.com yahoo.de yahoo.es yahoo.fr yahoo.it yandex.com
yandex.ru ymail.com zoho.com 163.com 126.com
""".split()
)


@dataclass(frozen=True)
class Address:
    """One address of an email: where it was found, its display name, its normalised form."""

    role: str
    name: str
    email: str

    @property
    def domain(self):
        return email_domain(self.email)


def is_bare_email(value):
    """Whether ``value`` is ``local@domain.tld``: one "@", no space or delimiter, a dot inside the domain.

    A single pass over the characters, in linear time: the regular expression it
    replaces backtracked quadratically (93 s on one crafted header).
    """
    if not value or len(value) > MAX_EMAIL_CHARS or value.count("@") != 1:
        return False
    if not _NOT_IN_ADDRESS.isdisjoint(value) or any(not c.isprintable() for c in value):
        return False
    local, _at, domain = value.partition("@")
    return bool(local) and "." in domain[1:-1]


def normalize_email(value):
    """Lower-case bare address, or ``""`` when ``value`` is not an address."""
    if not value:
        return ""
    value = value.strip().strip("<>").strip().lower()
    return value if is_bare_email(value) else ""


def email_domain(email):
    return email.rpartition("@")[2] if "@" in email else ""


def website_domain(url):
    """``acme.example`` from ``https://www.Acme.example/contact``; ``""`` without a website."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", (url or "").strip().lower())
    host = host.split("/", 1)[0].split(":", 1)[0]
    return host[4:] if host.startswith("www.") else host


def is_freemail(domain, extra=()):
    domain = (domain or "").lower()
    return domain in FREEMAIL_DOMAINS or domain in extra


# Odoo's parser reads address headers with the standard library's structured parser, which
# recurses once per nested "(" (RecursionError) and is quadratic on long crafted lists (13 s
# on 60 KB); such headers are rewritten as the plain list of their addresses first.
PARSED_ADDRESS_HEADERS = frozenset(
    ("from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to", "resent-cc")
)
REWRITE_ABOVE = 8 * 1024
_TOKEN_SPLIT_RE = re.compile(r"[\s<>(),;:\"\[\]]+")


def _split_addresses(text):
    """``(name, email)`` pairs of a header value, by the standard library when it copes."""
    try:
        return getaddresses([text])
    except (RecursionError, ValueError, IndexError):
        # Thousands of nested "(" or ":" exhaust its recursive parser: keep the bare addresses.
        return [("", token) for token in _TOKEN_SPLIT_RE.split(text) if "@" in token]


def _rewrite_address_header(lname, raw_field):
    """An address header field as the plain list of its addresses; ``None`` for other fields."""
    if lname not in PARSED_ADDRESS_HEADERS:
        return None
    name, _colon, value = raw_field.partition(b":")
    found = parse_header(value.decode("utf-8", "replace"))
    listed = ", ".join(formataddr((a.name, a.email), charset="utf-8") for a in found)
    ending = b"\r\n" if raw_field.endswith(b"\r\n") else b"\n"
    return name + b": " + listed.encode("ascii", "replace") + ending


def safe_headers(raw):
    """Return ``(raw, notes)``: ``raw`` with its long or comment-laden address headers rewritten
    as the list of their addresses, for Odoo's parser (display names are kept)."""
    return rewrite_headers(raw, _rewrite_address_header, REWRITE_ABOVE)


def parse_header(value, role="to", limit=MAX_ADDRESSES):
    """All valid addresses of one header value, in order, without repeats (at most ``limit``),
    their display names decoded.

    The value is cut at :data:`MAX_HEADER_CHARS` before it is parsed; addresses are split
    out of the raw value before any RFC 2047 word is decoded.
    """
    text = _SPACES_RE.sub(" ", (value or "")[:MAX_HEADER_CHARS]).strip()
    if not text:
        return []
    if len(text) <= MAX_CACHED_CHARS:
        return list(_parse_cached(text, role, limit))
    return _parse(text, role, limit)


# Each email's headers are read several times (log, plan, wave, privacy): short values
# are parsed once. Addresses are immutable; the cache is bounded in entries and size.
MAX_CACHED_CHARS = 1024


@functools.lru_cache(maxsize=2048)
def _parse_cached(text, role, limit):
    return tuple(_parse(text, role, limit))


def _parse(text, role, limit):
    result, seen = [], set()
    # Split first, decode display names only: an encoded word is never an address (C11).
    for name, raw_email in _split_addresses(text):
        if len(result) >= limit:
            break
        email = normalize_email(raw_email)
        if email and email not in seen:
            seen.add(email)
            result.append(Address(role, clean_name(decode_header_value(name)), email))
    return result


def collect(headers, limit=MAX_ADDRESSES):
    """Addresses of an email by role (at most ``limit`` in all); ``headers`` maps lower-case
    names to a value or list of values."""
    result, seen = [], set()
    for role in ROLES:
        values = headers.get(role) or []
        for value in values if isinstance(values, list | tuple) else [values]:
            for address in parse_header(value, role, limit=limit - len(result)):
                if len(result) >= limit:
                    return result
                if address.email not in seen:
                    seen.add(address.email)
                    result.append(address)
    return result


def clean_name(name):
    """Display name without quotes, comments or surrounding noise."""
    name = _COMMENT_RE.sub(" ", name or "")
    name = name.replace('"', " ").replace("'", "'").strip(" \t'<>")
    name = _SPACES_RE.sub(" ", name).strip()
    return "" if "@" in name and normalize_email(name) else name


def split_name(display_name, email=""):
    """Return ``(first, last)`` from a display name, or from the local part of ``email``.

    Understands "First Last", "Last, First", quoted names and comments.
    """
    name = clean_name(display_name)
    if not name and email:
        local = email.partition("@")[0]
        local = re.sub(r"[0-9]+$", "", local)
        parts = [p for p in re.split(r"[._\-+]+", local) if p]
        name = " ".join(p.capitalize() for p in parts)
    if not name:
        return "", ""
    if "," in name:
        last, _comma, first = name.partition(",")
        return first.strip(), last.strip()
    words = name.split()
    if len(words) == 1:
        return words[0], ""
    return " ".join(words[:-1]), words[-1]


def full_name(display_name, email=""):
    """The name a new contact should get: "First Last", or the address as a last resort."""
    first, last = split_name(display_name, email)
    return " ".join(p for p in (first, last) if p) or email

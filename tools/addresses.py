"""Email addresses and display names, without Odoo.

Normalisation matches Odoo's ``email_normalized`` columns (lower case, no
display name), so a normalised address can be looked up there directly.

Everything here runs in time linear in its input, whatever an email holds:
the address check is a scan, not a backtracking regex; header values are cut
before the standard library parses them, and its RecursionError on nested
comments or groups falls back to a plain split.
"""

import re
from dataclasses import dataclass
from email.utils import formataddr, getaddresses

from .mime import (
    ADDRESS_HEADERS,
    MAX_ADDRESSES,
    MAX_HEADER_LENGTH,
    cap_headers,
    decode_header_value,
)

# Roles in the order they are collected; earlier roles win for an address seen twice.
ROLES = ("from", "to", "cc", "delivered-to", "bcc")
# RFC 5321: a path is at most 256 octets, brackets included.
MAX_EMAIL_LENGTH = 254
# One character class, no repetition to backtrack over: a single scan.
_FORBIDDEN_RE = re.compile(r"[@\s<>(),;:\"\[\]]")
_TOKEN_SPLIT_RE = re.compile(r"[\s<>(),;:\"\[\]]+")
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


def normalize_email(value):
    """Lower-case bare address, or ``""`` when ``value`` is not an address."""
    if not value:
        return ""
    value = value.strip().strip("<>").strip().lower()
    return value if is_email(value) else ""


def is_email(value):
    """Whether ``value`` is a bare address: ``local@domain.tld``, checked in one linear scan."""
    if len(value) > MAX_EMAIL_LENGTH:
        return False
    local, at, domain = value.partition("@")
    if not (at and local and domain):
        return False
    if _FORBIDDEN_RE.search(local) or _FORBIDDEN_RE.search(domain):
        return False  # also a second "@"
    return "." in domain[1:-1]


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


def _split_addresses(text):
    """``(name, email)`` pairs of a header value, by the standard library when it copes."""
    try:
        return getaddresses([text])
    except (RecursionError, ValueError, IndexError):
        # Thousands of nested "(" or ":" exhaust its recursive parser: keep the bare addresses.
        return [("", token) for token in _TOKEN_SPLIT_RE.split(text) if "@" in token]


def parse_header(value, role="to", limit=MAX_ADDRESSES):
    """The first ``limit`` valid addresses of one header value, decoded, in order, without repeats.

    A value longer than ``tools.mime.MAX_HEADER_LENGTH`` is cut first: a legitimate
    list of recipients is far shorter, and the parsers need not see the rest.
    """
    text = decode_header_value(value)
    if not text:
        return []
    result, seen = [], set()
    for name, raw_email in _split_addresses(text[:MAX_HEADER_LENGTH]):
        email = normalize_email(raw_email)
        if email and email not in seen:
            seen.add(email)
            result.append(Address(role, clean_name(name), email))
            if len(result) >= limit:
                break
    return result


# Address headers that Odoo's parser (the standard library's, in quadratic time on crafted
# input) reads; above this size, or with nested comments, they are rewritten first.
PARSED_ADDRESS_HEADERS = (*ADDRESS_HEADERS, "reply-to", "sender", "resent-from", "resent-to")
REWRITE_ABOVE = 8 * 1024


def _rewrite_address_header(name, header):
    """An address header as the plain list of its addresses (``None`` for other headers)."""
    if name.lower() not in PARSED_ADDRESS_HEADERS:
        return None
    value = header.split(b":", 1)[1].decode("utf-8", "replace") if b":" in header else ""
    found = parse_header(value)
    listed = ", ".join(formataddr((a.name, a.email), charset="utf-8") for a in found)
    return f"{name}: {listed}\r\n".encode("utf-8", "replace")


def safe_headers(raw):
    """``(raw, notes)``: ``raw`` as Odoo's parser may read it. Headers are cut
    (:func:`tools.mime.cap_headers`), and a long address header, or one with nested
    comments, is replaced by the list of the addresses it holds."""
    return cap_headers(raw, rewrite=_rewrite_address_header, rewrite_above=REWRITE_ABOVE)


def collect(headers, limit=MAX_ADDRESSES):
    """The first ``limit`` addresses of an email by role; ``headers`` maps lower-case names to a
    value or list of values."""
    result, seen = [], set()
    for role in ROLES:
        values = headers.get(role) or []
        for value in values if isinstance(values, list | tuple) else [values]:
            for address in parse_header(value, role, limit):
                if address.email not in seen:
                    seen.add(address.email)
                    result.append(address)
                    if len(result) >= limit:
                        return result
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

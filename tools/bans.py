"""Banned senders: an address (``someone@x.com``) or a whole domain (``@x.com``). No Odoo import."""

from dataclasses import dataclass

from .addresses import email_domain, is_freemail, normalize_email


@dataclass(frozen=True)
class Ban:
    """One active ban, as the pipeline reads it once per run."""

    id: int
    pattern: str  # normalised: "someone@x.com" or "@x.com"
    reason: str = ""


def normalize_pattern(pattern):
    """``"someone@x.com"`` or ``"@x.com"`` in lower case, or ``""`` when ``pattern`` is neither."""
    pattern = (pattern or "").strip().lower()
    if pattern.startswith("@"):
        domain = pattern[1:]
        # A domain is valid when an address on it is.
        return pattern if domain and normalize_email(f"x@{domain}") else ""
    return normalize_email(pattern)


def domain_pattern(email):
    """The ban pattern of ``email``'s domain, or ``""`` for free-mail domains anyone can use."""
    domain = email_domain(normalize_email(email))
    if not domain or is_freemail(domain):
        return ""
    return "@" + domain


def find_ban(bans, email):
    """The :class:`Ban` that matches the normalised address ``email``, the address before the domain."""
    email = normalize_email(email)
    if not email:
        return None
    domain = "@" + email_domain(email)
    by_pattern = {ban.pattern: ban for ban in bans}
    return by_pattern.get(email) or by_pattern.get(domain)

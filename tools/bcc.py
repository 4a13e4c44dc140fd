"""BCC logging: which representative sent an email and which record it belongs on. No Odoo import.

A representative BCCs the logging address; the sender must be exactly one
representative (their own address, or an accepted sender address such as a
private alias), and the To recipients exactly one contact or lead.
"""

import re
from dataclasses import dataclass

from . import autoreply
from .addresses import normalize_email
from .matcher import partial_name, same_person

_ENTRY_SPLIT_RE = re.compile(r"[\n,;]+")


@dataclass(frozen=True)
class Representative:
    """An internal user who may log mail by BCC, with the addresses that are theirs."""

    user_id: int
    partner_id: int
    name: str
    emails: frozenset


@dataclass(frozen=True)
class AcceptedSender:
    """An extra sender address; ``owner`` names the representative it belongs to ("" for any)."""

    email: str
    owner: str = ""


def parse_accepted_senders(text):
    """``(entries, errors)`` from the *Accepted senders* text.

    One entry per line (or comma): ``alias@example.com`` accepts the address
    for every representative (the display name then tells them apart), and
    ``alias@example.com = rep@company.com`` for that representative only.
    """
    entries, errors = [], []
    for chunk in _ENTRY_SPLIT_RE.split(text or ""):
        chunk = chunk.strip()
        if not chunk:
            continue
        address, _sep, owner = (part.strip() for part in chunk.partition("="))
        email = normalize_email(address)
        owner_email = normalize_email(owner) if owner else ""
        if not email or (owner and not owner_email):
            errors.append(chunk)
            continue
        entries.append(AcceptedSender(email, owner_email))
    return tuple(entries), errors


def find_representatives(sender, sender_name, representatives, accepted=()):
    """The representatives the sender address (normalised) may be, best evidence first.

    Their own address decides; else the accepted addresses, narrowed by the
    display name when they are accepted for several representatives.
    """
    own = [r for r in representatives if sender in r.emails]
    if own:
        return own
    candidates = []
    for entry in accepted:
        if entry.email != sender:
            continue
        for rep in representatives:
            if (not entry.owner or entry.owner in rep.emails) and rep not in candidates:
                candidates.append(rep)
    if len(candidates) > 1 and sender_name:
        named = [r for r in candidates if same_person(r.name, sender_name)] or [
            r for r in candidates if partial_name(sender_name, r.name)
        ]
        if named:
            candidates = named
    return candidates


def pick_record(to_links, staff_emails=frozenset()):
    """``(choice, contacts, leads)``: the one record the To recipients designate, if any.

    ``to_links`` are :class:`tools.matcher.Link` of the To addresses. A contact
    wins over leads holding the same address (a contact with an open
    opportunity is one customer); staff and company links do not count.
    """
    contacts, leads = [], []
    for link in to_links:
        if link.email in staff_emails or link.via_company:
            continue
        if link.model == "res.partner" and link not in contacts:
            contacts.append(link)
        elif link.model == "crm.lead" and link not in leads:
            leads.append(link)
    candidates = contacts or leads
    return (candidates[0] if len(candidates) == 1 else None), contacts, leads


def is_auto_submitted(headers):
    """Whether ``headers`` (lower-case names, decoded values) mark automatic or bulk mail (RFC 3834).

    The same test as acknowledgements use: no explanation is ever mailed to a robot.
    """
    return autoreply.robot_reason(headers) is not None

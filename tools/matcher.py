"""Decide which records an email is filed on, from its addresses and candidate records.

Pure Python: the caller fetches the candidates (one query for all addresses)
and turns the result into links.
"""

from dataclasses import dataclass, field

from .addresses import split_name


@dataclass(frozen=True)
class Candidate:
    """A record holding one of the email's addresses."""

    model: str
    res_id: int
    email: str
    name: str = ""
    exclude: bool = False
    parent_id: int = 0  # commercial company of a contact


@dataclass(frozen=True)
class Link:
    model: str
    res_id: int
    email: str
    role: str
    reason: str
    exclude: bool = False
    via_company: bool = False  # linked as the company of a matched contact


@dataclass
class MatchResult:
    links: list = field(default_factory=list)
    addresses: list = field(default_factory=list)  # every address of the email
    ambiguous: list = field(default_factory=list)  # addresses shared by several contacts

    @property
    def excluded(self):
        return [link for link in self.links if link.exclude]

    def records(self, model):
        return [link.res_id for link in self.links if link.model == model]

    def author(self):
        """The one contact the From address designates, or ``None`` when it is unknown or ambiguous."""
        found = [
            link.res_id
            for link in self.links
            if link.model == "res.partner" and link.role == "from" and not link.via_company
        ]
        return found[0] if len(found) == 1 else None


def _name_key(name):
    first, last = split_name(name)
    return " ".join(sorted(p.casefold() for p in (first + " " + last).split()))


def same_person(name_a, name_b):
    """Whether two display names name the same person ("Last, First" and "First Last" agree)."""
    return bool(name_a and name_b) and _name_key(name_a) == _name_key(name_b)


def partial_name(short, full):
    """Whether every word of ``short`` (e.g. "Jane") is a word of ``full`` ("Jane Smith")."""
    short_words, full_words = set(_name_key(short).split()), set(_name_key(full).split())
    return bool(short_words) and short_words <= full_words


def match(addresses, candidates, companies=None):
    """Links for every address of ``addresses`` found among ``candidates``.

    Several contacts sharing one address are told apart by the display name;
    when that does not single one out, all of them are linked and the address
    is reported in ``ambiguous``. ``companies`` maps a contact id to its company
    (id, name, exclude), which is linked too.
    """
    by_email = {}
    for candidate in candidates:
        by_email.setdefault(candidate.email, []).append(candidate)
    companies = companies or {}
    result, seen = MatchResult(), set()

    def add(model, res_id, email, role, reason, exclude, via_company=False):
        if (model, res_id) not in seen:
            seen.add((model, res_id))
            result.links.append(Link(model, res_id, email, role, reason, exclude, via_company))

    for address in addresses:
        found = by_email.get(address.email, [])
        partners = [c for c in found if c.model == "res.partner"]
        how = ""
        if len(partners) > 1 and address.name:
            named = [c for c in partners if same_person(c.name, address.name)] or [
                c for c in partners if partial_name(address.name, c.name)
            ]
            if len(named) == 1 or (named and len(named) < len(partners)):
                partners, how = named, f" (name {address.name!r})"
        if len(partners) > 1:
            result.ambiguous.append(address.email)
            how = " (ambiguous: several contacts share it)"
        where = f"{address.role.capitalize()}: {address.email}"
        for candidate in partners + [c for c in found if c.model != "res.partner"]:
            add(
                candidate.model,
                candidate.res_id,
                address.email,
                address.role,
                where + how,
                candidate.exclude,
            )
            company = companies.get(candidate.res_id) if candidate.model == "res.partner" else None
            if company:
                company_id, company_name, company_exclude = company
                add(
                    "res.partner",
                    company_id,
                    address.email,
                    address.role,
                    f"Company of {candidate.name or address.email}",
                    company_exclude,
                    via_company=True,
                )
    return result

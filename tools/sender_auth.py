"""Sender authentication: did the sender's domain vouch for this email? No Odoo import.

The receiving server records its SPF, DKIM and DMARC checks in ``Authentication-Results``
headers (RFC 8601), which ``authres`` parses. Anyone can write such a header into the
email they send, so only the topmost ones count, down to the first one whose
authserv-id is not among the mailbox's trusted receiving servers: servers add theirs
above what they received. Optionally the converter verifies DKIM itself (``dkimpy``),
with a DNS timeout. Nothing here raises on bad input.
"""

import logging
from dataclasses import dataclass, field

import authres

from .addresses import email_domain

_logger = logging.getLogger(__name__)

PASS, FAIL, NONE = "pass", "fail", "none"
# Microsoft 365 (Exchange Online) stamps its header without an authserv-id, only the
# results ("spf=... smtp.mailfrom=...; dkim=... header.d=...; dmarc=... action=...
# header.from=...; compauth=... reason=..."), as documented in "Anti-spam message headers
# in Microsoft 365": https://learn.microsoft.com/defender-office-365/message-headers-eop-mdo
# This line trusts such a header; its server names (*.prod.outlook.com,
# protection.outlook.com) appear in Received and Received-SPF headers, never as an authserv-id.
MISSING_ID = "(missing)"
# Prefilled trusted receiving servers, by Odoo's OAuth server types (C12).
DEFAULT_AUTH_SERVERS = {
    "gmail": ("mx.google.com",),
    "outlook": (MISSING_ID,),
}
MAX_HEADERS = 20  # Authentication-Results headers looked at; more is hostile
MAX_HEADER_CHARS = 4096
MAX_SIGNATURES = 3  # DKIM signatures the module verifies itself
DNS_TIMEOUT = 3  # seconds per DNS query
_METHODS = ("dmarc", "dkim", "spf", "compauth")


@dataclass
class SenderAuth:
    """The outcome for one email: ``pass``, ``fail`` or ``none``, and what it rests on."""

    outcome: str = NONE
    detail: str = ""
    results: dict = field(default_factory=dict)  # method -> [result, ...], trusted headers only
    untrusted: bool = False  # the sender counts as unknown (set by the mailbox's policy)

    @property
    def failed(self):
        return self.outcome == FAIL


def parse_servers(text):
    """The trusted authserv-ids of a mailbox's ``auth_servers`` (one per line, ``*.`` wildcards)."""
    return tuple(
        line.strip().lower()
        for line in (text or "").splitlines()
        if line.strip() and not line.strip().startswith("#")
    )


def is_trusted(authserv_id, servers):
    """Whether ``authserv_id`` (``""`` when the header has none) is one of ``servers``."""
    authserv_id = (authserv_id or "").lower()
    for server in servers:
        if server == MISSING_ID and not authserv_id:
            return True
        if server.startswith("*.") and authserv_id.endswith(server[1:]):
            return True
        if authserv_id and server == authserv_id:
            return True
    return False


def _parse(value):
    """``(authserv_id, results)`` of one header value; ``None`` when it cannot be read."""
    value = " ".join(str(value or "")[:MAX_HEADER_CHARS].split())
    first = value.split(";", 1)[0]
    if "=" in first.split("(", 1)[0]:
        # No authserv-id (Exchange Online): parse it under a placeholder id.
        value, missing = "missing.invalid; " + value, True
    else:
        missing = False
    try:
        header = authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # noqa: BLE001 - authres raises several error types on hostile input
        return None
    results = [
        (
            str(r.method).lower(),
            str(r.result).lower(),
            {f"{p.type}.{p.name}".lower(): str(p.value or "") for p in r.properties},
        )
        for r in header.results
    ]
    return ("" if missing else str(header.authserv_id or "").lower()), results


def trusted_results(values, servers):
    """Results of the topmost headers ``values`` (top first) down to the first one that is
    not by a trusted server, or by a server already seen:
    ``[(authserv_id, method, result, properties), ...]``."""
    found, seen = [], set()
    for value in list(values)[:MAX_HEADERS]:
        parsed = _parse(value)
        if parsed is None or not is_trusted(parsed[0], servers) or parsed[0] in seen:
            # Written further down the way, possibly by the sender: a server writes one
            # header per email, so a second one under a seen id is not that server's.
            break
        authserv_id, results = parsed
        seen.add(authserv_id)
        found += [(authserv_id, *result) for result in results]
    return found


def _aligned(domain, from_domain):
    """Relaxed alignment (RFC 7489): the same domain, or one a subdomain of the other."""
    domain, from_domain = (domain or "").lower().strip("@."), (from_domain or "").lower()
    if not domain or not from_domain:
        return False
    return (
        domain == from_domain
        or from_domain.endswith("." + domain)
        or domain.endswith("." + from_domain)
    )


def _result_domain(method, properties):
    if method == "dkim":
        return properties.get("header.d") or email_domain(properties.get("header.i", ""))
    if method == "spf":
        mailfrom = properties.get("smtp.mailfrom", "")
        return email_domain(mailfrom) or mailfrom
    return properties.get("header.from", "")


def evaluate(values, servers, from_email, dkim_result=None):
    """The :class:`SenderAuth` of an email from its ``Authentication-Results`` header values
    (top first), the trusted ``servers`` and its From address; ``dkim_result`` is the
    module's own DKIM check (``pass``/``fail``/``None``), when it made one.

    DMARC decides when a trusted server gave it; else Microsoft's composite verdict; else a
    DKIM or SPF pass aligned with the From domain passes, an aligned failure fails.
    """
    from_domain = email_domain(from_email or "")
    results = {}
    aligned = {}
    by = []
    for authserv_id, method, result, properties in trusted_results(values, servers):
        if method not in _METHODS:
            continue
        results.setdefault(method, []).append(result)
        if method in ("dkim", "spf") and _aligned(_result_domain(method, properties), from_domain):
            aligned.setdefault(method, []).append(result)
        by.append(authserv_id or MISSING_ID)
    if dkim_result:
        results.setdefault("dkim", []).append(dkim_result)
        aligned.setdefault("dkim", []).append(dkim_result)
    outcome = _outcome(results, aligned)
    detail = ", ".join(f"{m}={'/'.join(results[m])}" for m in _METHODS if m in results)
    if by:
        detail += f" (by {', '.join(dict.fromkeys(by))})"
    if dkim_result:
        detail += f"; DKIM verified by Odoo: {dkim_result}"
    return SenderAuth(outcome, detail or "no trusted Authentication-Results", results)


def _outcome(results, aligned):
    # A failure reported by any trusted server outweighs another's pass.
    for method in ("dmarc", "compauth"):
        verdicts = results.get(method, [])
        if FAIL in verdicts:
            return FAIL
        if PASS in verdicts:
            return PASS
    if PASS in aligned.get("dkim", []) or PASS in aligned.get("spf", []):
        return PASS
    if FAIL in aligned.get("dkim", []) or FAIL in aligned.get("spf", []):
        return FAIL
    return NONE


def verify_dkim(raw, from_email, dnsfunc=None, timeout=DNS_TIMEOUT):
    """``pass`` when a DKIM signature of ``raw`` aligned with the From domain verifies,
    ``fail`` when signatures exist and none does, ``None`` when unsigned. Never raises;
    DNS queries time out after ``timeout`` seconds."""
    import dkim  # noqa: PLC0415 - only mailboxes that verify DKIM themselves load it

    from_domain = email_domain(from_email or "")
    try:
        checker = dkim.DKIM(raw, timeout=timeout)
        signatures = [
            i
            for i, (name, _value) in enumerate(checker.headers)
            if name.lower() == b"dkim-signature"
        ]
        if not signatures:
            return None
        kwargs = {"dnsfunc": dnsfunc} if dnsfunc else {}
        for index in range(min(len(signatures), MAX_SIGNATURES)):
            try:
                verified = checker.verify(idx=index, **kwargs)
            except Exception:  # noqa: BLE001 - DNS errors, bad keys: this signature does not count
                verified = False
            domain = (checker.domain or b"").decode("ascii", "replace")
            if verified and _aligned(domain, from_domain):
                return PASS
        return FAIL
    except Exception as exc:  # noqa: BLE001 - a broken message is unauthenticated, never an error
        _logger.debug("DKIM check failed: %s", exc)
        return None

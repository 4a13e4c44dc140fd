"""Rule evaluation over a parsed email, without Odoo.

Rules are tried in order. A rule limited to other mailboxes or another
direction is skipped. A rule matches when any (or all) of its conditions hold;
a rule without conditions matches every email. The first matching rule with
``stop`` ends the evaluation.
"""

import re
from dataclasses import dataclass, field

BODY_LIMIT = 100_000  # characters of body a condition looks at
ADDRESS_FIELDS = ("from", "to", "cc")


@dataclass(frozen=True)
class Condition:
    field: str  # from, to, cc, subject, body, header
    operator: str  # contains, not_contains, equals, starts_with, ends_with, regex
    value: str
    header_name: str = ""
    case_sensitive: bool = False

    def describe(self):
        where = f"header {self.header_name}" if self.field == "header" else self.field
        return f"{where} {self.operator.replace('_', ' ')} {self.value!r}"


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    conditions: tuple = ()
    match: str = "any"  # any, all
    server_ids: frozenset = frozenset()  # empty: every mailbox
    direction: str = "any"  # inbound, outbound, any
    stop: bool = True
    action: str = "link"


@dataclass
class Email:
    """What conditions look at; address fields hold the header text and each address."""

    headers: dict = field(default_factory=dict)  # lower-case name -> list of decoded values
    addresses: dict = field(default_factory=dict)  # from/to/cc -> list of normalised addresses
    body: str = ""

    def texts(self, condition):
        if condition.field == "header":
            return self.headers.get(condition.header_name.strip().lower(), [])
        if condition.field == "body":
            return [self.body[:BODY_LIMIT]]
        values = list(self.headers.get(condition.field, []))
        if condition.field in ADDRESS_FIELDS:
            values += self.addresses.get(condition.field, [])
        return values


@dataclass
class Verdict:
    rule: Rule
    status: str  # matched, not_matched, skipped
    reason: str = ""
    conditions: list = field(default_factory=list)  # (Condition, bool)


def _compare(operator, text, value, case_sensitive):
    if operator == "regex":
        return re.search(value, text, 0 if case_sensitive else re.IGNORECASE) is not None
    if not case_sensitive:
        text, value = text.casefold(), value.casefold()
    if operator in ("contains", "not_contains"):
        return value in text
    if operator == "equals":
        return text.strip() == value.strip()
    if operator == "starts_with":
        return text.strip().startswith(value)
    if operator == "ends_with":
        return text.strip().endswith(value)
    raise ValueError(f"Unknown operator {operator!r}")


def check(condition, email):
    """Whether ``condition`` holds for ``email``."""
    texts = email.texts(condition)
    if condition.operator == "not_contains":
        return not any(_compare("contains", t, condition.value, condition.case_sensitive) for t in texts)
    return any(_compare(condition.operator, t, condition.value, condition.case_sensitive) for t in texts)


def evaluate(rules, email, server_id=None, direction="inbound"):
    """Return ``(matched rules, verdicts)``; verdicts cover every rule, in order."""
    matched, verdicts, stopped = [], [], None
    for rule in rules:
        if stopped:
            verdicts.append(Verdict(rule, "skipped", f"after {stopped.name!r}, which stops further rules"))
            continue
        if rule.server_ids and server_id not in rule.server_ids:
            verdicts.append(Verdict(rule, "skipped", "limited to other mailboxes"))
            continue
        if rule.direction != "any" and rule.direction != direction:
            verdicts.append(Verdict(rule, "skipped", f"only for {rule.direction} mail"))
            continue
        results = [(condition, check(condition, email)) for condition in rule.conditions]
        if not results:
            ok = True
        elif rule.match == "all":
            ok = all(r for _c, r in results)
        else:
            ok = any(r for _c, r in results)
        verdicts.append(Verdict(rule, "matched" if ok else "not_matched", "", results))
        if ok:
            matched.append(rule)
            if rule.stop:
                stopped = rule
    return matched, verdicts

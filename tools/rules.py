"""Rule evaluation over a parsed email, without Odoo.

Rules are tried in order. A rule limited to other mailboxes or another
direction is skipped. A rule matches when any (or all) of its conditions hold;
a rule without conditions matches every email. The first matching rule with
``stop`` ends the evaluation.
"""

from dataclasses import dataclass, field

from . import safe_regex

BODY_LIMIT = 100_000  # characters of body a condition looks at
ADDRESS_FIELDS = ("from", "to", "cc")


@dataclass(frozen=True)
class Condition:
    field: str  # from, to, cc, subject, body, header
    operator: str  # contains, not_contains, equals, starts_with, ends_with, regex
    value: str
    header_name: str = ""
    case_sensitive: bool = False

    def __post_init__(self):
        # Prepared once: a rule is checked against every email of a run.
        set_ = object.__setattr__
        regex = self.operator == "regex"
        # Regexes search the original text (RE2's own case-insensitivity); other operators the folded one.
        set_(
            self,
            "key",
            (self.field, self.header_name.strip().lower(), self.case_sensitive or regex),
        )
        set_(self, "needle", self.value if self.case_sensitive else self.value.casefold())
        # RE2: linear time whatever the email; refused patterns never get this far (checked on save).
        set_(
            self, "pattern", safe_regex.compile(self.value, self.case_sensitive) if regex else None
        )

    def test(self, email):
        """Whether the condition holds for ``email``."""
        operator, needle = self.operator, self.needle
        if operator == "regex":
            return any(self.pattern.search(t) for t in email.texts(self.key))
        texts = email.texts(self.key)
        if operator == "contains":
            return any(needle in t for t in texts)
        if operator == "not_contains":
            return not any(needle in t for t in texts)
        needle = needle.strip()
        if operator == "equals":
            return any(t.strip() == needle for t in texts)
        if operator == "starts_with":
            return any(t.strip().startswith(needle) for t in texts)
        if operator == "ends_with":
            return any(t.strip().endswith(needle) for t in texts)
        raise ValueError(f"Unknown operator {operator!r}")

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
    private: bool = False
    # What the action needs (read once per run); not part of the rule's identity.
    tag_regex: str = ""
    user_id: int = 0
    ticket_values: dict = field(default_factory=dict, compare=False, hash=False)
    lead_values: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Email:
    """What conditions look at; address fields hold the header text and each address."""

    headers: dict = field(default_factory=dict)  # lower-case name -> list of decoded values
    addresses: dict = field(default_factory=dict)  # from/to/cc -> list of normalised addresses
    body: str = ""
    _texts: dict = field(default_factory=dict, repr=False)

    def texts(self, key):
        """Texts for a condition key ``(field, header name, keep case)``, computed once per email."""
        if key not in self._texts:
            field_name, header_name, keep_case = key
            if field_name == "header":
                values = list(self.headers.get(header_name, []))
            elif field_name == "body":
                values = [self.body[:BODY_LIMIT]]
            else:
                values = list(self.headers.get(field_name, []))
                if field_name in ADDRESS_FIELDS:
                    values += self.addresses.get(field_name, [])
            self._texts[key] = values if keep_case else [v.casefold() for v in values]
        return self._texts[key]


@dataclass
class Verdict:
    rule: Rule
    status: str  # matched, not_matched, skipped
    reason: str = ""
    conditions: list = field(default_factory=list)  # (Condition, bool)


def check(condition, email):
    """Whether ``condition`` holds for ``email``."""
    return condition.test(email)


def _match_rule(rule, email, explain):
    """Whether ``rule`` matches, and each condition's result (``None``: not needed to decide)."""
    if not rule.conditions:
        return True, []
    decisive = rule.match == "any"  # the result that settles the rule early
    results, ok = [], not decisive
    for condition in rule.conditions:
        if ok == decisive and not explain:
            results.append((condition, None))
            continue
        result = check(condition, email)
        results.append((condition, result))
        if result == decisive:
            ok = decisive
    return ok, results


def evaluate(rules, email, server_id=None, direction="inbound", explain=False):
    """Return ``(matched rules, verdicts)``; verdicts cover every rule, in order.

    Conditions that cannot change a rule's outcome are not checked unless
    ``explain`` asks for every result (the simulator does).
    """
    matched, verdicts, stopped = [], [], None
    for rule in rules:
        if stopped:
            verdicts.append(
                Verdict(rule, "skipped", f"after {stopped.name!r}, which stops further rules")
            )
            continue
        if rule.server_ids and server_id not in rule.server_ids:
            verdicts.append(Verdict(rule, "skipped", "limited to other mailboxes"))
            continue
        if rule.direction != "any" and rule.direction != direction:
            verdicts.append(Verdict(rule, "skipped", f"only for {rule.direction} mail"))
            continue
        ok, results = _match_rule(rule, email, explain)
        verdicts.append(Verdict(rule, "matched" if ok else "not_matched", "", results))
        if ok:
            matched.append(rule)
            if rule.stop:
                stopped = rule
    return matched, verdicts

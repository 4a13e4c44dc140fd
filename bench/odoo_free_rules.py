"""Time the rule evaluator on the corpus with many rules, without Odoo."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tools import addresses, mime  # noqa: E402
from tools.rules import Condition, Email, Rule, evaluate  # noqa: E402

OPERATORS = ("contains", "not_contains", "equals", "starts_with", "ends_with", "regex")
FIELDS = ("from", "to", "cc", "subject", "body")


def make_rules(count):
    """``count`` realistic rules that mostly do not match, then a catch-all."""
    rules = []
    for i in range(count - 1):
        conditions = tuple(
            Condition(
                FIELDS[(i + j) % len(FIELDS)],
                OPERATORS[(i + j) % len(OPERATORS)],
                rf"order\s+{i}-{j}"
                if OPERATORS[(i + j) % len(OPERATORS)] == "regex"
                else f"keyword-{i}-{j}",
            )
            for j in range(3)
        )
        conditions = tuple(c for c in conditions if c.operator != "not_contains")
        rules.append(
            Rule(i + 1, f"Rule {i}", conditions, "all" if i % 2 else "any", action="ticket")
        )
    rules.append(Rule(count, "Everything else", (), action="ticket"))
    return rules


def bench_rules(corpus, count=200):
    rules = make_rules(count)
    emails = []
    for raw in corpus:
        summary = mime.summarize(raw)
        found = addresses.collect(summary.address_headers)
        by_role = {}
        for a in found:
            by_role.setdefault(a.role, []).append(a.email)
        body = raw.split(b"\n\n", 1)[-1].decode("utf-8", "replace")
        headers = {k: [v] for k, v in summary.headers.items()}
        emails.append(Email(headers=headers, addresses=by_role, body=body))
    start = time.perf_counter()
    for email in emails:
        matched, _verdicts = evaluate(rules, email, server_id=1, direction="inbound")
        assert matched
    return (time.perf_counter() - start) * 1000 / len(emails)

"""Unit tests of tools/rules.py: every operator, any/all, stop, order, mailbox and direction limits."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools.rules import Condition, Email, Rule, check, evaluate  # noqa: E402

EMAIL = Email(
    headers={
        "from": ["Alice VIP <alice@vip.com>"],
        "to": ["support@company.example"],
        "cc": [],
        "subject": ["Out of Office: back Monday"],
        "x-priority": ["1 (Highest)"],
    },
    addresses={"from": ["alice@vip.com"], "to": ["support@company.example"], "cc": []},
    body="Hello, please send a QUOTE for 40 licences.",
)


class TestConditions(unittest.TestCase):
    def test_operators(self):
        cases = [
            (Condition("subject", "contains", "out of office"), True),
            (Condition("subject", "contains", "out of office", case_sensitive=True), False),
            (Condition("subject", "not_contains", "invoice"), True),
            (Condition("subject", "not_contains", "office"), False),
            (Condition("from", "equals", "ALICE@vip.com"), True),
            (Condition("from", "equals", "vip.com"), False),
            (Condition("from", "ends_with", "@vip.com"), True),
            (Condition("from", "starts_with", "alice"), True),
            (Condition("to", "starts_with", "sales"), False),
            (Condition("body", "regex", r"quote\s+for\s+\d+"), True),
            (Condition("body", "regex", r"QUOTE", case_sensitive=True), True),
            (Condition("header", "contains", "highest", header_name="X-Priority"), True),
            (Condition("header", "contains", "x", header_name="X-Missing"), False),
            (Condition("cc", "not_contains", "anyone"), True),
        ]
        for condition, expected in cases:
            self.assertEqual(check(condition, EMAIL), expected, condition.describe())


class TestRegexConditions(unittest.TestCase):
    def test_case_and_unicode(self):
        email = Email(headers={"subject": ["Angebot: STRASSE Preis"]}, body="")
        self.assertTrue(check(Condition("subject", "regex", r"angebot:\s+str"), email))
        self.assertTrue(check(Condition("subject", "regex", r"^ANGEBOT"), email))
        self.assertFalse(
            check(Condition("subject", "regex", r"ANGEBOT:\s+str", case_sensitive=True), email)
        )
        self.assertFalse(check(Condition("subject", "regex", r"^Preis"), email))


class TestEvaluate(unittest.TestCase):
    def test_any_all_stop_order(self):
        ooo = Rule(
            1,
            "Out of office",
            (Condition("subject", "contains", "out of office"),),
            action="discard",
        )
        vip = Rule(
            2,
            "VIP",
            (Condition("from", "ends_with", "@vip.com"), Condition("subject", "contains", "x")),
            match="all",
            action="ticket",
        )
        vip_any = Rule(3, "VIP any", vip.conditions, match="any", action="ticket", stop=False)
        catch_all = Rule(4, "Everything", (), action="link")
        matched, verdicts = evaluate(
            [vip, vip_any, catch_all, ooo], EMAIL, server_id=1, explain=True
        )
        self.assertEqual([r.id for r in matched], [3, 4])
        self.assertEqual(
            [v.status for v in verdicts], ["not_matched", "matched", "matched", "skipped"]
        )
        self.assertIn("stops further rules", verdicts[3].reason)
        self.assertEqual([ok for _c, ok in verdicts[0].conditions], [True, False])

    def test_conditions_not_needed_are_not_checked(self):
        first_fails = Rule(
            1,
            "all",
            (Condition("subject", "contains", "nope"), Condition("body", "contains", "quote")),
            match="all",
        )
        first_holds = Rule(
            2,
            "any",
            (Condition("subject", "contains", "office"), Condition("body", "contains", "x")),
            match="any",
        )
        matched, verdicts = evaluate([first_fails, first_holds], EMAIL)
        self.assertEqual(matched, [first_holds])
        self.assertEqual([ok for _c, ok in verdicts[0].conditions], [False, None])
        self.assertEqual([ok for _c, ok in verdicts[1].conditions], [True, None])

    def test_mailbox_and_direction_limits(self):
        rule = Rule(1, "Sales box", (), server_ids=frozenset({7}), action="lead")
        self.assertEqual(
            evaluate([rule], EMAIL, server_id=8)[1][0].reason, "limited to other mailboxes"
        )
        self.assertEqual(evaluate([rule], EMAIL, server_id=7)[0], [rule])
        outbound = Rule(2, "Sent", (), direction="outbound")
        self.assertEqual(evaluate([outbound], EMAIL, 7, "inbound")[1][0].status, "skipped")
        self.assertEqual(evaluate([outbound], EMAIL, 7, "outbound")[0], [outbound])

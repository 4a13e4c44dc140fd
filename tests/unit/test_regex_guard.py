"""Unit tests of tools/regex_guard.py."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import regex_guard  # noqa: E402


class TestRegexGuard(unittest.TestCase):
    def test_safe_patterns(self):
        for pattern in (r"\[(HT\d+)\]", r"\[LC(\d{7})\]", r"out of (the )?office", r"^(re|fwd?):\s*", r"(ab|cd){2}"):
            self.assertIsNone(regex_guard.check(pattern), pattern)

    def test_refused_patterns(self):
        self.assertIn("Invalid", regex_guard.check(r"[unclosed"))
        self.assertIn("empty", regex_guard.check(""))
        for pattern in (r"(a+)+$", r"(\w*\s?)*x", r"(x+x+)+y", r"((ab)*)+", r"(a|aa){2,}"):
            self.assertIn("forever", regex_guard.check(pattern) or "", pattern)
        self.assertIn("longer", regex_guard.check("a" * 600))

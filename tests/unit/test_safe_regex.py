"""Unit tests of tools/safe_regex.py: what admins may type, and that hostile patterns stay linear."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import safe_regex  # noqa: E402


class TestSafeRegex(unittest.TestCase):
    def test_usual_patterns(self):
        for pattern in (
            r"\[(HT\d+)\]",
            r"\[LC(\d{7})\]",
            r"out of (the )?office",
            r"^(re|fwd?):\s*",
            r"(ab|cd){2}",
        ):
            self.assertIsNone(safe_regex.check(pattern), pattern)
        regex = safe_regex.compile(r"\[(HT\d+)\]")
        self.assertEqual(regex.search("Re: [ht00042] printer").group(1), "ht00042")
        self.assertIsNone(safe_regex.compile("ANGEBOT", case_sensitive=True).search("angebot"))

    def test_refused_patterns(self):
        self.assertIn("Invalid", safe_regex.check(r"[unclosed"))
        self.assertIn("empty", safe_regex.check(""))
        self.assertIn("longer", safe_regex.check("a" * 600))
        # RE2 has no back-references: they are refused when saved, not at run time.
        self.assertIn("back-references", safe_regex.check(r"(a)\1"))
        self.assertIn("Invalid", safe_regex.check(r"(?=lookahead)"))

    def test_catastrophic_shapes_run_in_linear_time(self):
        """Patterns that hang Python's re finish at once on long hostile texts."""
        hostile = {
            r"^(\w+\s?){1,50}$": "a" * 5000 + "!",
            r"(\d*){50}x": "1" * 5000,
            r"(a+)+$": "a" * 50000 + "b",
            r"(\w*\s?)*x": "ab " * 20000,
            r"(a|aa){2,}$": "a" * 50000 + "b",
        }
        for pattern, text in hostile.items():
            regex = safe_regex.compile(pattern)
            start = time.perf_counter()
            regex.search(text)
            # Generous: the point is "not minutes", measured properly in bench/.
            self.assertLess(time.perf_counter() - start, 1.0, pattern)

"""Unit tests of tools/run_cache.py: no Odoo, no database."""

import os
import sys
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools.run_cache import SANITIZED_KEPT, RunCache  # noqa: E402


class TestRunCache(unittest.TestCase):
    def test_aliases_asked_once_per_address(self):
        asked = []

        def find(emails):
            asked.append(list(emails))
            return [e for e in emails if e.startswith("catchall@")]

        cache = RunCache()
        self.assertEqual(
            cache.aliases(["catchall@a.example", "bob@b.example"], find), ["catchall@a.example"]
        )
        self.assertEqual(cache.aliases(["bob@b.example", "", "nobody"], find), [])
        self.assertEqual(
            cache.aliases(["new@c.example", "catchall@a.example"], find), ["catchall@a.example"]
        )
        self.assertEqual(asked, [["catchall@a.example", "bob@b.example"], ["new@c.example"]])

    def test_sanitized_once_per_text_and_options(self):
        calls = []

        def sanitize(html):
            calls.append(html)
            return html.upper()

        cache = RunCache()
        self.assertEqual(cache.sanitized("<p>a</p>", ("style",), sanitize), "<P>A</P>")
        self.assertEqual(cache.sanitized("<p>a</p>", ("style",), sanitize), "<P>A</P>")
        # Other options are another sanitising.
        self.assertEqual(cache.sanitized("<p>a</p>", ("no style",), sanitize), "<P>A</P>")
        self.assertEqual(calls, ["<p>a</p>", "<p>a</p>"])

    def test_sanitized_keeps_only_the_last_few(self):
        calls = []

        def sanitize(html):
            calls.append(html)
            return html

        cache = RunCache()
        for index in range(SANITIZED_KEPT + 1):
            cache.sanitized(f"<p>{index}</p>", (), sanitize)
        cache.sanitized("<p>0</p>", (), sanitize)  # the oldest was let go: sanitised again
        cache.sanitized(f"<p>{SANITIZED_KEPT}</p>", (), sanitize)  # the newest is kept
        self.assertEqual(len(calls), SANITIZED_KEPT + 2)
        self.assertLessEqual(len(cache._sanitized), SANITIZED_KEPT)

    def test_get_computes_once(self):
        cache, calls = RunCache(), []
        for _i in range(3):
            self.assertEqual(cache.get("k", lambda: calls.append(1) or 42), 42)
        self.assertEqual(calls, [1])

    def test_of_source(self):
        cache = RunCache()
        self.assertIs(RunCache.of(SimpleNamespace(run_cache=cache)), cache)
        self.assertIsInstance(RunCache.of(SimpleNamespace(run_cache=None)), RunCache)


if __name__ == "__main__":
    unittest.main()

"""Unit tests of tools/run_cache.py: no Odoo, no database."""

import os
import sys
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools.run_cache import RunCache  # noqa: E402


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

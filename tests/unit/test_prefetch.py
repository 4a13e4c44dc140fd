import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from tools.prefetch import Prefetch, prefetch_of  # noqa: E402


class TestPrefetch(unittest.TestCase):
    def test_answers_only_what_was_asked(self):
        prefetch = Prefetch()
        prefetch.fill("flagged", ["a@x", "b@x"], {"a@x": True})
        self.assertTrue(prefetch.knows("flagged", ["a@x", "b@x"]))
        self.assertFalse(prefetch.knows("flagged", ["a@x", "c@x"]))
        self.assertTrue(prefetch.get("flagged", "a@x"))
        self.assertIsNone(prefetch.get("flagged", "b@x"))
        self.assertEqual(prefetch.get("flagged", "c@x", "unknown"), "unknown")
        self.assertFalse(prefetch.knows("messages", ["a@x"]))

    def test_only_the_object_counts_as_a_marker(self):
        prefetch = Prefetch()
        self.assertIs(prefetch_of({"mail_converter_prefetch": prefetch}), prefetch)
        # what an RPC context could carry is never taken for one
        self.assertIsNone(prefetch_of({"mail_converter_prefetch": {"flagged": {}}}))
        self.assertIsNone(prefetch_of({}))


if __name__ == "__main__":
    unittest.main()

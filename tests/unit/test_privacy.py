"""Unit tests of tools/privacy.py: which Sensitivity headers make an email private."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools.privacy import private_sensitivity  # noqa: E402


class TestSensitivity(unittest.TestCase):
    def test_private_values(self):
        for value, expected in (
            ("Private", "Private"),
            ("private", "private"),
            ("Personal", "Personal"),
            ("Company-Confidential", "Company-Confidential"),
            ("  company-confidential  ", "company-confidential"),
            ("Private (set by Outlook)", "Private"),
        ):
            self.assertEqual(private_sensitivity(value), expected, value)

    def test_not_private(self):
        for value in (None, "", "Normal", "Confidential-ish", "Private Personal", 42, "x" * 10000):
            self.assertEqual(private_sensitivity(value), "", value)


if __name__ == "__main__":
    unittest.main()


class TestImportingMarker(unittest.TestCase):
    def test_only_the_marker_object_counts(self):
        from tools.privacy import IMPORTING, is_importing  # noqa: PLC0415

        self.assertTrue(is_importing({"mail_converter_importing": IMPORTING}))
        # What a JSON-RPC context can hold does not.
        for value in (True, 1, "1", "true", {"x": 1}, [1]):
            self.assertFalse(is_importing({"mail_converter_importing": value}), value)
        self.assertFalse(is_importing({}))

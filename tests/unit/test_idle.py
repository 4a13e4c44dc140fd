"""IMAP IDLE helpers: message counting and reconnection backoff (the protocol itself is tested
against Dovecot in tests/test_instant.py)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import idle  # noqa: E402


class TestCountAfter(unittest.TestCase):
    def test_exists_above_the_count_is_new_mail(self):
        self.assertEqual(idle.count_after([b"* 4 EXISTS"], 3), (4, True))

    def test_same_count_is_not_new(self):
        self.assertEqual(idle.count_after([b"* 3 EXISTS", b"* OK Still here"], 3), (3, False))

    def test_messages_moved_away_are_not_new(self):
        # The fetch moved two messages: EXPUNGE twice, then a later EXISTS at the lower count.
        lines = [b"* 2 EXPUNGE", b"* 1 EXPUNGE", b"* 1 EXISTS"]
        self.assertEqual(idle.count_after(lines, 3), (1, False))

    def test_arrival_after_expunge_is_new(self):
        lines = [b"* 3 EXPUNGE", b"* 3 EXISTS"]
        self.assertEqual(idle.count_after(lines, 3), (3, True))

    def test_other_untagged_lines_are_ignored(self):
        lines = [b"* 2 FETCH (FLAGS (\\Seen))", b"* 5 RECENT", b"+ idling"]
        self.assertEqual(idle.count_after(lines, 2), (2, False))

    def test_case_insensitive(self):
        self.assertEqual(idle.count_after([b"* 7 exists"], 0), (7, True))


class TestBackoff(unittest.TestCase):
    def test_doubles_then_caps(self):
        delays = [idle.backoff_seconds(n, jitter=0) for n in range(1, 12)]
        self.assertEqual(delays[:4], [1, 2, 4, 8])
        self.assertEqual(max(delays), idle.BACKOFF_MAX_SECONDS)

    def test_jitter_spreads_but_never_shortens(self):
        for _i in range(50):
            delay = idle.backoff_seconds(3)
            self.assertGreaterEqual(delay, 4)
            self.assertLessEqual(delay, 4.4)

    def test_idle_is_reissued_before_29_minutes(self):
        self.assertLess(idle.IDLE_REISSUE_SECONDS, 29 * 60)


if __name__ == "__main__":
    unittest.main()

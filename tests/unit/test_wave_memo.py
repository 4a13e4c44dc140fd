import os
import sys
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from tools.wave_memo import CONTEXT_KEY, WaveMemo, memo_of  # noqa: E402


class TestWaveMemo(unittest.TestCase):
    def setUp(self):
        self.cursor = object()
        self.memo = WaveMemo(self.cursor, exact_models={"ir.sequence"})
        self.calls = 0

    def compute(self, value):
        def run():
            self.calls += 1
            return value

        return run

    def test_answers_again_until_the_model_changes(self):
        memo = self.memo
        self.assertEqual(memo.answer("res.partner", "k", self.compute([1]), fields={"email"}), [1])
        self.assertEqual(memo.answer("res.partner", "k", self.compute([2]), fields={"email"}), [1])
        self.assertEqual(self.calls, 1)
        # a write of a field the answer does not depend on keeps it
        memo.forget("res.partner", {"message_bounce"})
        self.assertEqual(memo.answer("res.partner", "k", self.compute([2])), [1])
        # another model's change keeps it too
        memo.forget("res.users")
        self.assertEqual(memo.answer("res.partner", "k", self.compute([2])), [1])
        memo.forget("res.partner", {"email", "name"})
        self.assertEqual(memo.answer("res.partner", "k", self.compute([2])), [2])
        # created or deleted records: every answer about the model goes
        memo.forget("res.partner")
        self.assertEqual(memo.answer("res.partner", "k", self.compute([3])), [3])
        self.assertEqual(self.calls, 3)

    def test_an_answer_without_fields_goes_at_any_write(self):
        self.memo.answer("ir.sequence", "k", self.compute([7]))
        self.memo.forget("ir.sequence", {"number_next"})
        self.assertEqual(self.memo.answer("ir.sequence", "k", self.compute([8])), [8])

    def test_existing_records_are_only_those_checked(self):
        memo = self.memo
        memo.remember_existing("res.users", [1, 2])
        self.assertTrue(memo.existing("res.users", (1,)))
        self.assertTrue(memo.existing("res.users", (1, 2)))
        self.assertFalse(memo.existing("res.users", (1, 3)))
        self.assertFalse(memo.existing("res.users", ()))
        self.assertFalse(memo.existing("res.partner", (1,)))
        # a new record (NewId) is never taken for a checked one
        self.assertFalse(memo.existing("res.users", (1, "new")))
        memo.forget("res.users", {"login"})
        memo.forget("res.users")  # records created: those checked still exist
        self.assertTrue(memo.existing("res.users", (1,)))
        memo.forget_existing("res.users")  # records deleted: checked again
        self.assertFalse(memo.existing("res.users", (1,)))

    def test_answers_read_at_once_are_forgotten_one_by_one(self):
        memo = self.memo
        memo.fill("mail.message", {("thread", 1): [], ("thread", 2): [5]}, fields={"res_id"})
        self.assertEqual(memo.answer("mail.message", ("thread", 2), self.compute(None)), [5])
        memo.forget_matching("mail.message", lambda key: key[1] in (1, 9))
        self.assertEqual(memo.answer("mail.message", ("thread", 1), self.compute([6])), [6])
        self.assertEqual(memo.answer("mail.message", ("thread", 2), self.compute(None)), [5])
        memo.forget("mail.message", {"res_id"})
        self.assertEqual(memo.answer("mail.message", ("thread", 2), self.compute([7])), [7])

    def test_a_known_change_revises_the_answer(self):
        memo = self.memo
        memo.answer("res.partner", ("bounced", 0), self.compute({"a@x": [1, 2]}))
        memo.revise(
            "res.partner",
            lambda key: key[0] == "bounced",
            lambda answer: {e: [i for i in ids if i != 2] for e, ids in answer.items()},
        )
        self.assertEqual(
            memo.answer("res.partner", ("bounced", 0), self.compute(None)), {"a@x": [1]}
        )
        self.assertEqual(self.calls, 1)

    def test_only_its_cursor_and_only_during_the_wave(self):
        env = SimpleNamespace(context={CONTEXT_KEY: self.memo}, cr=self.cursor)
        self.assertIs(memo_of(env), self.memo)
        # another cursor (code Odoo runs after the commit, a new cursor) never sees it
        self.assertIsNone(memo_of(SimpleNamespace(context=env.context, cr=object())))
        # what an RPC context could carry is never taken for one
        self.assertIsNone(memo_of(SimpleNamespace(context={CONTEXT_KEY: {}}, cr=self.cursor)))
        self.memo.close()
        self.assertIsNone(memo_of(env))


if __name__ == "__main__":
    unittest.main()

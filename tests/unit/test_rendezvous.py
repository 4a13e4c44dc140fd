"""A wave's emails side by side, meeting at one step done once (tools.rendezvous)."""

import contextvars
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import rendezvous  # noqa: E402
from tools.waves import BulkCreate, BulkSlot, bulk_create_of  # noqa: E402

COLOUR = contextvars.ContextVar("colour", default="none")


class TestRunTogether(unittest.TestCase):
    def test_each_task_waits_at_the_step_which_is_done_once_for_all(self):
        log, gathered = [], []

        def task(name):
            def run():
                log.append(f"{name} before")
                answer = rendezvous.current().meet(name)
                log.append(f"{name} got {answer}")
                return answer.upper()

            return run

        def gather(requests):
            gathered.append(list(requests))
            return [f"{r}!" for r in requests]

        results = rendezvous.run_together([task("a"), task("b"), task("c")], gather)
        self.assertEqual(results, ["A!", "B!", "C!"])
        self.assertEqual(gathered, [["a", "b", "c"]], "one step for the three")
        self.assertEqual(log[:3], ["a before", "b before", "c before"])
        self.assertEqual(log[3:], ["a got a!", "b got b!", "c got c!"])

    def test_tasks_that_meet_more_or_never_go_on_in_rounds(self):
        gathered = []

        def twice():
            meeting = rendezvous.current()
            return meeting.meet(1) + meeting.meet(2)

        results = rendezvous.run_together(
            [twice, lambda: "alone", twice], lambda r: gathered.append(r) or [x * 10 for x in r]
        )
        self.assertEqual(results, [30, "alone", 30])
        self.assertEqual(gathered, [[1, 1], [2, 2]])

    def test_a_request_left_waiting_is_answered_with_those_that_catch_up(self):
        gathered = []

        def early():
            return rendezvous.current().meet("message")

        def late():
            rendezvous.current().meet("attachment")
            return rendezvous.current().meet("message")

        def gather(requests):
            gathered.append(list(requests))
            if "attachment" in requests:  # messages wait for the others to catch up
                return [rendezvous.WAIT if r == "message" else "ok" for r in requests]
            return [f"{r} {n}" for n, r in enumerate(requests)]

        results = rendezvous.run_together([early, late, early], gather)
        self.assertEqual(gathered, [["message", "attachment", "message"], ["message"] * 3])
        self.assertEqual(sorted(results), ["message 0", "message 1", "message 2"])
        with self.assertRaises(RuntimeError):
            rendezvous.run_together([early], lambda r: [rendezvous.WAIT])

    def test_outside_a_task_there_is_no_meeting(self):
        self.assertIsNone(rendezvous.current())
        rendezvous.run_together([lambda: self.assertIsNotNone(rendezvous.current())], list)
        self.assertIsNone(rendezvous.current())

    def test_an_error_stops_every_task_each_unwinding_its_own_blocks(self):
        unwound = []

        def waits():
            try:
                rendezvous.current().meet("x")
            finally:
                unwound.append("waits")

        def fails():
            rendezvous.current().meet("y")
            raise RuntimeError("boom")

        def gather(requests):
            return requests

        with self.assertRaises(RuntimeError):
            rendezvous.run_together([fails, waits, waits], gather)
        self.assertEqual(unwound, ["waits", "waits"], "the waiting ones were unwound")

        with self.assertRaises(ValueError):
            rendezvous.run_together([waits], lambda r: (_ for _ in ()).throw(ValueError()))
        self.assertEqual(len(unwound), 3)

    def test_each_task_has_its_own_context_variables_and_bulk_slot(self):
        COLOUR.set("caller")
        slot = BulkSlot()
        context = {"mail_converter_bulk": slot}

        def task(colour):
            def run():
                seen = COLOUR.get()
                COLOUR.set(colour)
                bulk = BulkCreate()
                with slot.holding(bulk):
                    rendezvous.current().meet(None)
                    return seen, COLOUR.get(), bulk_create_of(context) is bulk

            return run

        results = rendezvous.run_together([task("red"), task("blue")], lambda r: r)
        self.assertEqual(results, [("caller", "red", True), ("caller", "blue", True)])
        self.assertEqual(COLOUR.get(), "caller")
        self.assertIsNone(bulk_create_of(context))


if __name__ == "__main__":
    unittest.main()

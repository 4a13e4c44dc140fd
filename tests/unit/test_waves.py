"""Waves of a batch: an email waits for the emails it depends on (tools.waves)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools.waves import (  # noqa: E402
    BulkCreate,
    BulkSlot,
    Posted,
    bulk_create_of,
    copy_values,
    first_wave,
    footprint,
)


def fp(sender, addresses=(), new=(), target=None, mid=None, refs=()):
    return footprint(sender, addresses, new, target, mid, refs)


class TestWaves(unittest.TestCase):
    def test_independent_emails_form_one_wave(self):
        batch = [fp(f"c{i}@x.example", mid=f"<{i}@x>") for i in range(5)]
        self.assertEqual(first_wave(batch), ([0, 1, 2, 3, 4], []))

    def test_a_reply_to_an_email_of_the_batch_waits(self):
        batch = [fp("a@x.example", mid="<1@x>"), fp("b@y.example", mid="<2@y>", refs=["<1@x>"])]
        self.assertEqual(first_wave(batch), ([0], [1]))

    def test_same_sender_waits_for_its_counters(self):
        batch = [fp("A@x.example"), fp("b@y.example"), fp("a@x.example")]
        self.assertEqual(first_wave(batch), ([0, 1], [2]))

    def test_an_address_another_email_creates_a_contact_for_waits(self):
        batch = [
            fp("a@x.example", addresses=["new@z.example"], new=["new@z.example"]),
            fp("b@y.example", addresses=["new@z.example"]),
        ]
        self.assertEqual(first_wave(batch), ([0], [1]))

    def test_same_record_waits(self):
        batch = [
            fp("a@x.example", target=("crm.lead", 7)),
            fp("b@y.example", target=("crm.lead", 7)),
        ]
        self.assertEqual(first_wave(batch), ([0], [1]))

    def test_order_is_kept_behind_a_waiting_email(self):
        # 1 waits for 0 (reply); 2 replies to 1, which waits: 2 waits too.
        batch = [
            fp("a@x.example", mid="<1@x>"),
            fp("b@y.example", mid="<2@y>", refs=["<1@x>"]),
            fp("c@z.example", mid="<3@z>", refs=["<2@y>"]),
            fp("d@w.example", mid="<4@w>"),
        ]
        self.assertEqual(first_wave(batch), ([0, 3], [1, 2]))

    def test_a_shared_budget_limits_the_wave(self):
        cap = ("auto_reply", 1)
        batch = [fp(f"c{i}@x.example") for i in range(4)]
        for item in batch:
            item.counts.add(cap)
        self.assertEqual(first_wave(batch, {cap: 2}), ([0, 1], [2, 3]))
        # Used up: the first still goes (progress), alone.
        self.assertEqual(first_wave(batch, {cap: 0}), ([0], [1, 2, 3]))
        # Emails that send nothing are not held back by it.
        self.assertEqual(first_wave([*batch[:2], fp("z@z.example")], {cap: 1}), ([0, 2], [1]))

    def test_budget_order_is_kept_behind_a_waiting_email(self):
        cap = ("auto_reply", 1)
        batch = [
            footprint("a@x.example", [], [], None, "<1@x>", [], counts=[cap]),
            footprint("b@y.example", [], [], None, "<2@y>", ["<1@x>"], counts=[cap]),
            footprint("c@z.example", [], [], None, "<3@z>", [], counts=[cap]),
        ]
        self.assertEqual(first_wave(batch, {cap: 5}), ([0], [1, 2]))

    def test_the_first_email_always_goes(self):
        self.assertEqual(first_wave([fp("a@x.example", refs=["<1@x>"])]), ([0], []))
        self.assertEqual(first_wave([]), ([], []))


class TestBulkCreate(unittest.TestCase):
    def test_captured_values_are_served_back_in_order(self):
        bulk = BulkCreate()
        bulk.capture("helpdesk.ticket", [{"name": "A"}])
        bulk.created_from("helpdesk.ticket", [7])
        bulk.capturing = False
        self.assertTrue(bulk.left())
        self.assertEqual(bulk.serve("helpdesk.ticket", [{"name": "A"}]), [7])
        self.assertFalse(bulk.left())

    def test_different_values_are_not_served(self):
        bulk = BulkCreate()
        bulk.capture("crm.lead", [{"name": "A", "email_from": "a@x.example"}])
        bulk.created_from("crm.lead", [3])
        self.assertIsNone(bulk.serve("crm.lead", [{"name": "A", "email_from": "b@x.example"}]))
        self.assertIn("email_from", bulk.mismatch)
        self.assertIsNone(bulk.serve("crm.lead", [{"name": "A"}, {"name": "B"}]))
        self.assertTrue(bulk.left(), "nothing was handed out")

    def test_only_the_object_is_a_marker(self):
        # An RPC context holds JSON values only: no caller can switch a bulk create on.
        self.assertIsNone(bulk_create_of({"mail_converter_bulk": True}))
        self.assertIsNone(bulk_create_of({"mail_converter_bulk": {"captured": {}}}))
        marker = BulkCreate()
        self.assertIs(bulk_create_of({"mail_converter_bulk": marker}), marker)


class TestCopyValues(unittest.TestCase):
    def test_lists_are_not_shared(self):
        values = {"author_id": 3, "partner_ids": [1, 2]}
        copied = copy_values(values)
        copied["partner_ids"].append(9)
        self.assertEqual(values, {"author_id": 3, "partner_ids": [1, 2]})
        self.assertEqual(BulkCreate(stop_at="helpdesk.ticket").stop_at, "helpdesk.ticket")
        self.assertIsNone(BulkCreate().post_processed)


class TestPosted(unittest.TestCase):
    def test_finds_the_last_message_of_the_record(self):
        posted = Posted()
        posted.collect(
            [11, 12],
            [
                {"message_id": "<1@x>", "model": "helpdesk.ticket", "res_id": 1},
                {"message_id": "<1@x>", "model": "crm.lead", "res_id": 1},
            ],
        )
        posted.collect([13], [{"message_id": "<1@x>", "model": "helpdesk.ticket", "res_id": 1}])
        self.assertEqual(posted.find("<1@x>", "helpdesk.ticket", 1), 13)
        self.assertEqual(posted.find("<1@x>", "crm.lead", 1), 12)
        self.assertIsNone(posted.find("<2@x>", "helpdesk.ticket", 1))
        self.assertIsNone(posted.find("<1@x>", "helpdesk.ticket", 2))

    def test_two_markers_are_never_equal(self):
        # Odoo reuses a live environment whose context compares equal: an email's
        # environment must never hand its messages to another email's marker.
        self.assertNotEqual(Posted(), Posted())
        self.assertNotEqual(
            {"mail_converter_posted": Posted()}, {"mail_converter_posted": Posted()}
        )


class TestBulkSlot(unittest.TestCase):
    def test_holds_the_current_emails_bulk_create_only_while_it_is_applied(self):
        slot = BulkSlot()
        context = {"mail_converter_bulk": slot}
        first, second = BulkCreate(), BulkCreate()
        self.assertIsNone(bulk_create_of(context))
        with slot.holding(first):
            self.assertIs(bulk_create_of(context), first)
        self.assertIsNone(bulk_create_of(context))
        with self.assertRaises(RuntimeError), slot.holding(second):
            self.assertIs(bulk_create_of(context), second)
            raise RuntimeError
        self.assertIsNone(bulk_create_of(context), "released after an error too")
        self.assertIs(bulk_create_of({"mail_converter_bulk": first}), first)
        self.assertIsNone(bulk_create_of({"mail_converter_bulk": "forged"}))
        self.assertNotEqual(BulkSlot(), BulkSlot())


if __name__ == "__main__":
    unittest.main()

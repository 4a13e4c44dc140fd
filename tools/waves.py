"""Cut a fetched batch into waves of emails that can be applied together.

An email *depends* on an earlier email of its batch when applying the earlier
one could change its plan: it replies to it, it names an address the earlier
one creates a contact for, it targets the same record, or it comes from the
same sender (acknowledgement and loop-guard counters). Such an email waits for
the next wave and is planned again once the wave before it is applied, so a
batched run decides exactly what one email at a time would. No Odoo import.
"""

import contextlib
import contextvars
from dataclasses import dataclass, field


@dataclass
class Footprint:
    """What one planned email reads and writes, as comparable keys.

    ``claims``: what applying it changes (its sender's counters, the contacts it
    creates, the record it targets, its own Message-ID). ``needs``: what its plan
    was decided from (every address it names, the Message-IDs it refers to, its
    target record, its sender's counters).
    """

    claims: set = field(default_factory=set)
    needs: set = field(default_factory=set)
    # Shared budgets it uses one unit of (a mailbox's hourly cap of automatic replies).
    counts: set = field(default_factory=set)


def footprint(
    sender, addresses, new_contacts, target, message_id, references, replies_to=(), counts=()
):
    """The :class:`Footprint` of an email from the parts of its plan.

    ``target`` is ``(model, id)`` of an existing record or ``None`` for a new one;
    ``replies_to`` are the addresses it sends an automatic reply to (per-address
    counters), ``counts`` the budgets it uses (see :func:`first_wave`). Addresses are
    compared lower-cased.
    """
    sender = (sender or "").lower()
    fp = Footprint(counts=set(counts))
    for who in {sender, *(a.lower() for a in replies_to if a)} - {""}:
        fp.claims.add(("sender", who))
        fp.needs.add(("sender", who))
    fp.needs.update(("budget", key) for key in counts)
    fp.needs.update(("address", a.lower()) for a in addresses if a)
    fp.claims.update(("address", a.lower()) for a in new_contacts if a)
    if target:
        fp.claims.add(("record", *target))
        fp.needs.add(("record", *target))
    if message_id:
        fp.claims.add(("message", message_id.strip()))
    fp.needs.update(("message", r.strip()) for r in references if r and r.strip())
    return fp


def first_wave(footprints, budgets=None):
    """Split ``footprints`` (in batch order) into the indexes applied now and those that wait.

    An email waits when it needs what an earlier email of the batch claims, whether
    that one is applied now or waits itself (so the batch's order is kept), or when a
    budget it counts against (``budgets``: key -> units left) is used up by the earlier
    emails of the wave: planned together, each saw the budget before the others. The
    first email is always applied now, so every wave makes progress.
    """
    budgets = dict(budgets or {})
    used = dict.fromkeys(budgets, 0)
    claimed, now, later = set(), [], []
    for index, fp in enumerate(footprints):
        counted = [key for key in fp.counts if key in budgets]
        over = any(used[key] >= budgets[key] for key in counted)
        if fp.needs & claimed or (over and now):
            later.append(index)
            # Behind a waiting email, every later one of the same budget waits too.
            claimed |= {("budget", key) for key in counted}
        else:
            now.append(index)
            for key in counted:
                used[key] += 1
        claimed |= fp.claims
    return now, later


class BulkCreate:
    """The context marker (``mail_converter_bulk``) that lets a wave create its new records in
    one ``create``, while Odoo's own ``message_new`` chain still decides every value.

    It works in two passes over the same chain. *Capturing*, ``create`` records the values
    the chain would create and creates nothing. Then the wave creates all the captured
    values at once. *Serving*, the chain runs again for each email and ``create`` hands out
    the record made from exactly those values, in order. An object, not a flag: no RPC
    context can carry it.
    """

    __slots__ = ("captured", "created", "capturing", "mismatch", "stop_at", "post_processed")

    def __init__(self, stop_at=None):
        self.mismatch = ""
        self.post_processed = None  # Odoo's author and recipients, found while capturing
        # Capturing ends at the create of this model (the route's record): what the chain
        # does after it only runs when serving (see :class:`Captured`).
        self.stop_at = stop_at
        self.captured = {}  # model -> [values]
        self.created = {}  # model -> [(values, record id)] still to hand out
        self.capturing = True

    def capture(self, model, values_list):
        """Record what ``create`` was asked (while capturing)."""
        self.captured.setdefault(model, []).extend(dict(v) for v in values_list)

    def created_from(self, model, ids):
        """The records created in bulk from the captured values of ``model``, in order."""
        self.created[model] = list(zip(self.captured.get(model, []), ids, strict=True))

    def created_ids(self):
        """``{model: ids}`` of the records made in bulk and not handed out yet."""
        return {
            model: [record_id for _v, record_id in pairs] for model, pairs in self.created.items()
        }

    def serve(self, model, values_list):
        """The ids of the records made in bulk for ``values_list``; ``None`` when they differ
        from what was captured (the chain did not decide the same twice: fall back)."""
        queue = self.created.get(model) or []
        served = queue[: len(values_list)]
        if len(served) < len(values_list):
            self.mismatch = f"{model}: {len(values_list)} records asked, {len(served)} made"
            return None
        for values, (captured, _id) in zip(values_list, served, strict=True):
            if dict(values) != captured:
                keys = sorted(
                    k for k in set(values) | set(captured) if values.get(k) != captured.get(k)
                )
                self.mismatch = f"{model}: {', '.join(keys)} differ"
                return None
        del queue[: len(values_list)]
        return [record_id for _values, record_id in served]

    def left(self):
        """Whether records made in bulk were not handed out (the chain created fewer)."""
        return any(self.created.values())


def copy_values(values):
    """A copy of ``values`` whose lists are copies too (Odoo may extend them in place)."""
    return {key: list(value) if isinstance(value, list) else value for key, value in values.items()}


class Captured(Exception):  # noqa: N818 - control flow, not an error
    """Raised by ``create`` while capturing, once the route's record is captured: the rest of
    the ``message_new`` chain works on that record, which does not exist yet."""


class BulkMismatch(Exception):
    """Odoo's chain did not create in the wave what it created while capturing."""


class BulkSlot:
    """The context marker (``mail_converter_bulk``) of a whole wave: it holds the
    :class:`BulkCreate` of the email being applied (``current``), none between emails.

    One marker a wave, not one an email: Odoo looks every new environment up among the
    transaction's live ones, comparing contexts, and those of an email's posting live
    until the commit (Odoo's precommit callbacks hold their records). With a marker per
    email a batch kept about a hundred environments alive, and every ``with_context``
    scanned them all. Compared by identity. What it holds is a context variable: the
    emails of a wave applied side by side (``tools.rendezvous``) each see their own.
    """

    __slots__ = ()

    @property
    def current(self):
        held = _HOLDING.get()
        return held[1] if held is not None and held[0] is self else None

    @contextlib.contextmanager
    def holding(self, bulk):
        """``bulk`` is the current email's :class:`BulkCreate` until the block ends."""
        token = _HOLDING.set((self, bulk))
        try:
            yield bulk
        finally:
            _HOLDING.reset(token)


_HOLDING = contextvars.ContextVar("mail_converter_bulk_holding", default=None)


def bulk_create_of(context):
    """The :class:`BulkCreate` of ``context``, set by the converter's batch only, or ``None``."""
    marker = context.get("mail_converter_bulk")
    if isinstance(marker, BulkSlot):
        marker = marker.current
    return marker if isinstance(marker, BulkCreate) else None


class Posted:
    """The context marker (``mail_converter_posted``) collecting the messages Odoo's gateway
    creates while the converter posts an email, so the pipeline finds its message without
    searching for it.

    It keeps ids, not records: a record refers to its environment, whose context refers
    to this marker, and environments in such a cycle outlive their email (Odoo looks an
    environment up among all the live ones of the transaction, for every ``with_context``).
    Compared by identity: two emails' markers never make one environment.
    """

    __slots__ = ("_items",)

    def __init__(self):
        self._items = []  # (message id, (Message-ID, model, res_id))

    def collect(self, message_ids, values_list):
        """Remember the messages ``message_ids`` created from ``values_list``, in order."""
        self._items.extend(
            (message_id, (values.get("message_id"), values.get("model"), values.get("res_id")))
            for message_id, values in zip(message_ids, values_list, strict=False)
        )

    def find(self, message_id, model, res_id):
        """The id of the last collected message with ``message_id`` on record ``model``/``res_id``."""
        for found, key in reversed(self._items):
            if key == (message_id, model, res_id):
                return found
        return None


def posted_of(context):
    """The :class:`Posted` collector of ``context``, or ``None``."""
    marker = context.get("mail_converter_posted")
    return marker if isinstance(marker, Posted) else None

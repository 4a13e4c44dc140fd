"""Answers read for many emails at once, then handed to each email's own look-up.

A batch reads, in one query, what each of its emails would otherwise ask the
database for one by one (is a contact flagged private? is this Message-ID in
Odoo already?). It carries a :class:`Prefetch` in the context
(``mail_converter_prefetch``) while it logs or plans; each look-up asks it first
and queries alone only for what it was not given. A prefetch lives as long as
nothing it answers can change: one logging pass, one planning round. An object,
not a value, so no RPC context can carry one. No Odoo import.
"""

_MISSING = object()


class Prefetch:
    """Answers by kind and key, each read for a whole batch."""

    __slots__ = ("_answers",)

    def __init__(self):
        self._answers = {}

    def fill(self, kind, keys, answers):
        """Store the answer of each of ``keys`` (``answers[key]``, ``None`` when absent)."""
        table = self._answers.setdefault(kind, {})
        for key in keys:
            table[key] = answers.get(key)

    def knows(self, kind, keys):
        """Whether every one of ``keys`` was answered."""
        table = self._answers.get(kind, {})
        return all(key in table for key in keys)

    def get(self, kind, key, default=None):
        """The answer stored for ``key``, or ``default`` when it was not asked."""
        value = self._answers.get(kind, {}).get(key, _MISSING)
        return default if value is _MISSING else value


def prefetch_of(context):
    """The :class:`Prefetch` of ``context``, or ``None``."""
    marker = context.get("mail_converter_prefetch")
    return marker if isinstance(marker, Prefetch) else None

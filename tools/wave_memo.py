"""What the emails of one wave all ask Odoo the same way, asked once.

Applying a wave (``mail.converter.batch``) runs Odoo's gateway for each of its
emails: each asks whether OdooBot still exists, which sequence numbers tickets,
which stage a new ticket starts in, which contacts have these addresses. A
:class:`WaveMemo` in the context (``mail_converter_wave_memo``) keeps the first
answer to such a question for the rest of the wave, and drops every answer about
a model as soon as the wave creates, deletes or writes (the fields the answer
depends on of) a record of that model, so an answer is always the one the
database would give. It answers only on the cursor it was made for and only until
the wave ends (:meth:`WaveMemo.close`): code Odoo runs after the commit never
sees it. No Odoo import.
"""

from collections import defaultdict

CONTEXT_KEY = "mail_converter_wave_memo"


class WaveMemo:
    """Answers by model, each with the fields it depends on (``None``: any change)."""

    def __init__(self, cursor, exact_models=()):
        self._cursor = cursor
        self._open = True
        self._answers = defaultdict(dict)  # model: {key: (fields or None, answer)}
        self._existing = defaultdict(set)  # model: ids known to exist since before the wave
        # Models whose searches are answered again when asked again with the same arguments.
        self.exact_models = frozenset(exact_models)
        # What the wave concerns, for answers read for all of it at once (by kind).
        self.scope = {}

    def open_on(self, cursor):
        """Whether the memo answers on ``cursor`` (its own, and the wave not over)."""
        return self._open and cursor is self._cursor

    def close(self):
        """End of the wave: answer nothing any more."""
        self._open = False
        self._answers.clear()
        self._existing.clear()

    def answer(self, model, key, compute, fields=None):
        """The memorised answer to ``key`` about ``model``, else ``compute()``, memorised
        until ``model`` changes (in ``fields`` when given)."""
        table = self._answers[model]
        if key not in table:
            table[key] = (frozenset(fields) if fields is not None else None, compute())
        return table[key][1]

    def fill(self, model, answers, fields=None):
        """Memorise several answers about ``model`` read at once (``{key: answer}``)."""
        deps = frozenset(fields) if fields is not None else None
        self._answers[model].update((key, (deps, answer)) for key, answer in answers.items())

    def forget_matching(self, model, touched):
        """Drop the answers about ``model`` whose key ``touched(key)`` says a change may
        have altered (a change known precisely: a message added to one thread)."""
        table = self._answers.get(model)
        if table:
            for key in [k for k in table if touched(k)]:
                del table[key]

    def revise(self, model, touched, revise):
        """Replace the answers about ``model`` whose key ``touched(key)`` selects by
        ``revise(answer)`` (a change whose effect on them is known exactly)."""
        table = self._answers.get(model)
        if table:
            for key in [k for k in table if touched(k)]:
                deps, answer = table[key]
                table[key] = (deps, revise(answer))

    def forget(self, model, fields=None):
        """``model`` changed (``fields`` of existing records, or records created or deleted
        when ``None``): drop what may no longer hold."""
        table = self._answers.get(model)
        if table:
            if fields is None:
                table.clear()
            else:
                changed = set(fields)
                for key in [k for k, (deps, _a) in table.items() if deps is None or deps & changed]:
                    del table[key]

    def forget_existing(self, model):
        """Records of ``model`` were deleted: which exist is checked again."""
        self._existing.pop(model, None)

    def remember_existing(self, model, ids):
        """``ids`` of ``model`` were found to exist before the wave changed anything."""
        self._existing[model].update(i for i in ids if isinstance(i, int))

    def existing(self, model, ids):
        """Whether all of ``ids`` are known to exist (none is new)."""
        known = self._existing.get(model)
        return bool(ids) and known is not None and all(i in known for i in ids)


def memo_of(env):
    """The open :class:`WaveMemo` of ``env`` (its context, on its cursor), or ``None``."""
    memo = env.context.get(CONTEXT_KEY)
    return memo if isinstance(memo, WaveMemo) and memo.open_on(env.cr) else None

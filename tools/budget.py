"""A time budget for one email: checked between stages, so one email never holds a mailbox back.

Python cannot interrupt a parse safely, so the budget is checked at the seams:
after reading, between plan stages and after applying. An email over its budget
raises :class:`OverBudget`, which the pipeline logs as a failure (rolled back,
retried later like any failure) before it goes on with the next email. No Odoo import.
"""

import time

DEFAULT_SECONDS = 60


class OverBudget(Exception):
    """An email took longer than its time budget."""


class Budget:
    """Seconds allowed for one email, from its start; ``seconds`` 0 means no limit."""

    def __init__(self, seconds=DEFAULT_SECONDS, clock=None):
        self.seconds = seconds
        self._clock = clock or (lambda: time.monotonic())
        self.started = self._clock()

    @property
    def elapsed(self):
        return self._clock() - self.started

    @property
    def expired(self):
        return bool(self.seconds) and self.elapsed > self.seconds

    def check(self, where=""):
        """Raise :class:`OverBudget` when the budget is spent; ``where`` names the seam."""
        if self.expired:
            raise OverBudget(
                f"Over its time budget: {self.elapsed:.1f} s > {self.seconds} s"
                + (f" (at {where})" if where else "")
            )

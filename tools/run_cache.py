"""What stays the same during one mailbox run, asked of the database once.

A :class:`RunCache` lives as long as the cursor converting the run's emails: it
is kept in Odoo's ``cursor.cache``, which is meant for repeatable reads and is
dropped with the cursor. The converter hands it down explicitly (``of(cr)``);
nothing is carried in the context. No Odoo import.
"""


class RunCache:
    """Answers that do not change during a run: aliases, alias domains, field descriptions."""

    KEY = "mail_converter.run_cache"

    def __init__(self):
        self._values = {}

    @classmethod
    def of(cls, cr):
        """The run cache of the cursor ``cr`` (created on first use)."""
        return cr.cache.setdefault(cls.KEY, cls())

    def get(self, key, compute):
        """The value stored under ``key``, computed once by ``compute()``."""
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]

    def aliases(self, emails, find):
        """The addresses among ``emails`` that are aliases; ``find`` is asked about new ones only."""
        emails = [e for e in emails if e and "@" in e]
        unknown = list(dict.fromkeys(e for e in emails if ("alias", e) not in self._values))
        if unknown:
            found = set(find(unknown))
            self._values.update((("alias", e), e in found) for e in unknown)
        return [e for e in emails if self._values["alias", e]]

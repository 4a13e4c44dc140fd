"""What stays the same during one mailbox run, asked of the database once.

A :class:`RunCache` belongs to one run: ``fetchmail.server._converter_source``
makes one with the run's :class:`tools.source.MailboxSource`, which hands it to
every stage. Odoo's own parsing and posting ask for alias domains and field
descriptions themselves; the converter's ``mail.thread`` environment carries
the same object for them (as Odoo prefetches ``mail_catchall_aliases``). No
Odoo import.
"""

from collections import OrderedDict

# HTML texts whose sanitised form is kept: an email's body is sanitised as the record's
# description and again as the message's body, one after the other.
SANITIZED_KEPT = 8


class RunCache:
    """Answers that do not change during a run: aliases, alias domains, field descriptions."""

    def __init__(self):
        self._values = {}
        self._sanitized = OrderedDict()

    @classmethod
    def of(cls, source):
        """The run cache of ``source``; a throwaway one when the source has none."""
        return getattr(source, "run_cache", None) or cls()

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

    def sanitized(self, html, options, sanitize):
        """``sanitize(html)``, computed once for the same text and options (the last few kept).

        The sanitiser is a pure function of its input and options, so the kept result is
        exactly what sanitising again would give.
        """
        key = (str(html), options)
        if key in self._sanitized:
            self._sanitized.move_to_end(key)
            return self._sanitized[key]
        result = sanitize(html)
        self._sanitized[key] = result
        if len(self._sanitized) > SANITIZED_KEPT:
            self._sanitized.popitem(last=False)
        return result

"""Odoo's address splitting, remembered within one of the converter's batches.

Odoo's gateway splits the same few headers again and again for each email (``email_split``
and ``email_normalize`` call ``odoo.tools.mail.email_split_tuples`` about 30 times an
email: parsing, routing, contacts, followers, bounce counters). The result depends on the
text only, so inside :func:`remembered` each text is split once; outside it, and for long
texts, Odoo's function runs as it is. Only the module's own global is wrapped, which is
what Odoo's helpers in ``odoo.tools.mail`` look up.
"""

import contextlib
import contextvars

from odoo.tools import mail as odoo_mail

MAX_TEXT = 1024  # longer texts (an address list) are split each time

_memo = contextvars.ContextVar("mail_converter_email_split_memo", default=None)
# Odoo's own function, also when this module is imported again.
_split = getattr(odoo_mail.email_split_tuples, "__wrapped__", odoo_mail.email_split_tuples)


def email_split_tuples(text):
    """:func:`odoo.tools.mail.email_split_tuples`, answered from the batch's memo."""
    memo = _memo.get()
    if memo is None or not isinstance(text, str) or len(text) > MAX_TEXT:
        return _split(text)
    found = memo.get(text)
    if found is None:
        found = memo[text] = tuple(_split(text))
    return list(found)  # a new list each time: callers may change theirs


@contextlib.contextmanager
def remembered():
    """Split each address text once until the block ends (this thread only)."""
    if _memo.get() is not None:  # nested: the outer memo holds
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


email_split_tuples.__wrapped__ = _split
odoo_mail.email_split_tuples = email_split_tuples

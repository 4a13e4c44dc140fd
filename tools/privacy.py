"""Privacy headers: which emails their sender marked private. No Odoo import.

``Sensitivity`` (RFC 2156, registered by RFC 4021) is what Outlook, Thunderbird
and most clients set when the sender picks *Private*, *Personal* or
*Confidential*.
"""

import re

# Values of the Sensitivity header that make an email private, casefolded.
PRIVATE_SENSITIVITIES = frozenset({"private", "personal", "company-confidential"})

_COMMENT = re.compile(r"\([^()]*\)")


def private_sensitivity(value):
    """The ``Sensitivity`` header's value as written when it marks the email private, else ``""``.

    Comments (RFC 5322 ``(...)``) and surrounding spaces are ignored, as is case;
    ``Normal`` or anything unknown is not private.
    """
    if not value or not isinstance(value, str):
        return ""
    cleaned = " ".join(_COMMENT.sub(" ", value[:200]).split())
    return cleaned if cleaned.casefold() in PRIVATE_SENSITIVITIES else ""


class Importing:
    """The context marker of the converter's own import (``mail_converter_importing``).

    An object, not a flag: a JSON-RPC caller's context holds only JSON values, so no caller
    can set it to switch off what an import switches off ("All emails private" on staff mail).
    """

    __slots__ = ()

    def __bool__(self):
        return True


IMPORTING = Importing()


def is_importing(context):
    """Whether ``context`` is the converter's own import (set by the reader, never by RPC)."""
    return isinstance(context.get("mail_converter_importing"), Importing)

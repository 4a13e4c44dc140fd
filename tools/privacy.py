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

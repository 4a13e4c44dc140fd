"""Regular expressions that admins type, run by RE2 in linear time.

Python's ``re`` backtracks: a pattern like ``(\\w+\\s?)*$`` can take hours on
one crafted email. RE2 (``google-re2``) guarantees time linear in the text
and refuses what it cannot guarantee (back-references, look-arounds), so a
pattern is checked when it is saved and never stalls a run afterwards.
"""

import functools

import re2

MAX_LENGTH = 500
MAX_MEMORY = 8 << 20  # bytes RE2 may use for one compiled pattern


class UnsafePattern(ValueError):
    """A pattern RE2 refuses, with a message meant for the admin who typed it."""


def _options(case_sensitive):
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False  # the admin sees the error on save; no noise on stderr
    options.max_mem = MAX_MEMORY
    return options


@functools.lru_cache(maxsize=4096)
def compile(pattern, case_sensitive=False):  # noqa: A001 - mirrors re.compile
    """Compile ``pattern`` with RE2; raise :class:`UnsafePattern` with a readable reason."""
    if not pattern:
        raise UnsafePattern("The pattern is empty.")
    if len(pattern) > MAX_LENGTH:
        raise UnsafePattern(f"The pattern is longer than {MAX_LENGTH} characters.")
    try:
        return re2.compile(pattern, _options(case_sensitive))
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise UnsafePattern(
            f"Invalid regular expression: {detail}. Patterns run with RE2, which has no "
            "back-references or look-arounds, so that no email can make them run forever."
        ) from exc


def check(pattern):
    """Return an error message for ``pattern``, or ``None`` when it can be used."""
    try:
        compile(pattern)
    except UnsafePattern as exc:
        return str(exc)
    return None

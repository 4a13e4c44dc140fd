"""Checks for regular expressions that admins type, before anything runs them."""

import re

MAX_LENGTH = 500
_UNBOUNDED = re.compile(r"[+*]|\{\d*,\d*\}")


def _risky_groups(pattern):
    r"""Yield groups repeated without bound that contain a quantifier or an alternation.

    Such groups, like (a+)+, (\w*\s?)* or (a|aa)+, are the classic shapes of
    catastrophic backtracking.
    """
    stack = []  # per open group: [contains_quantifier, contains_alternation]
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            stack.append([False, False])
        elif char == "|" and stack:
            stack[-1][1] = True
        elif char in "+*?{" and stack:
            stack[-1][0] = stack[-1][0] or char != "?"
        elif char == ")" and stack:
            quantified, alternation = stack.pop()
            following = _UNBOUNDED.match(pattern, i + 1)
            if following and following.group() not in ("{,}",) and (quantified or alternation):
                bounded = following.group().startswith("{") and following.group()[-2] != ","
                if not bounded:
                    yield pattern[: i + 1]
            if stack:
                stack[-1][0] = stack[-1][0] or quantified or bool(following)
        i += 1


def check(pattern):
    """Return an error message for ``pattern``, or ``None`` when it is safe to use."""
    if not pattern:
        return "The pattern is empty."
    if len(pattern) > MAX_LENGTH:
        return f"The pattern is longer than {MAX_LENGTH} characters."
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"Invalid regular expression: {exc}"
    if any(_risky_groups(pattern)):
        return ("The pattern repeats a group that itself repeats (like (a+)+); "
                "it could take forever on some emails. Simplify it.")
    return None

"""Quoted history in a reply: marked for Odoo's "•••" toggle, never removed. No Odoo import.

Odoo's chatter hides the elements of a message body that carry
``data-o-mail-quote="1"`` behind a "•••" button (``insertEllipsisbtn`` in
mail's ``message_patch.js``); its HTML sanitizer already marks Gmail's
``gmail_quote`` blocks, Outlook on the web's ``divRplyFwdMsg`` and
``blockquote`` elements. Outlook for Windows' "From: … Sent: …" block, the
"On … wrote:" lines and plain-text replies are found by ``quotequail``;
everything from there on is wrapped in one marked element.
"""

import html as html_lib

import lxml.html
import quotequail
import re2
from lxml import etree
from quotequail import _internal, _patterns

QUOTE_ATTRIBUTE = "data-o-mail-quote"
# Larger bodies are left as they are: quote detection is line based and must stay cheap.
MAX_LENGTH = 1_000_000
# quotequail reads this many lines at most, and folds whatever follows them.
MAX_LINES = 1000


def _compile_patterns_with_re2():
    """Have quotequail match its reply and forward patterns with RE2: compiled by ``re`` they
    backtrack, in time cubic in the length of a crafted line (4,000 characters: 11 s)."""
    for patterns in (*_patterns.COMPILED_PATTERN_MAP.values(), _patterns.COMPILED_PATTERNS):
        patterns[:] = [
            re2.compile(pattern.pattern) if isinstance(pattern.pattern, str) else pattern
            for pattern in patterns
        ]


_compile_patterns_with_re2()

# quotequail tries each of its 35 patterns on every line, each a call into RE2 (about 5 ms
# for a plain-text reply): one pattern joining them all tells first whether any matches.
_ANY_PATTERN = re2.compile(
    "|".join(f"(?:{pattern.pattern})" for pattern in _patterns.COMPILED_PATTERNS)
)
_find_pattern_on_line = _internal.find_pattern_on_line


def _find_pattern_on_line_prefiltered(lines, n, max_wrap_lines, position):
    """quotequail's ``find_pattern_on_line``, asked only when a pattern matches the line (or
    the line joined with the next ones, as it tries them): the same answer, in one match."""
    for m in range(max_wrap_lines):
        match_line = _internal.join_wrapped_lines(lines[n : n + 1 + m])
        if match_line.startswith(">"):
            match_line = match_line[1:].strip()
        if not match_line:
            break
        if _ANY_PATTERN.match(match_line.strip()):
            return _find_pattern_on_line(lines, n, max_wrap_lines, position)
    return None


_internal.find_pattern_on_line = _find_pattern_on_line_prefiltered


def _inner_html(fragment):
    """The content of ``fragment``'s body, without the ``<html>``/``<body>`` quotequail keeps."""
    if not fragment.strip():
        return ""
    document = lxml.html.document_fromstring(fragment)
    body = document.body
    return html_lib.escape(body.text or "", quote=False) + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in body
    )


def _fold_text(text):
    """``(new, quoted)`` parts of a plain-text reply; ``quoted`` is ``""`` when there is none."""
    parts = quotequail.quote(text, limit=MAX_LINES, quote_intro_line=True)
    if len(parts) < 2 or not parts[1][1].strip():
        return text, ""
    return parts[0][1], parts[1][1]


def _fold_pre(root):
    """Split each plain-text ``<pre>`` (Odoo's rendering of a text/plain body) at its quote."""
    changed = False
    for pre in list(root.iter("pre")):
        if len(pre) or not pre.text or pre.get(QUOTE_ATTRIBUTE):
            continue
        new, quoted = _fold_text(pre.text)
        if not quoted:
            continue
        pre.text = new
        folded = etree.Element("pre", {QUOTE_ATTRIBUTE: "1"})
        folded.text = quoted
        folded.tail = pre.tail
        pre.tail = None
        pre.addnext(folded)
        changed = True
    return changed


def fold_quotes(body):
    """``body`` (HTML) with its quoted history marked for folding; unchanged when none is found.

    The text is kept whole: the quoted part is only wrapped, or its ``<pre>`` split in two.
    """
    if not body or not body.strip() or len(body) > MAX_LENGTH:
        return body
    wrapper = lxml.html.fragment_fromstring(body, create_parent="div")
    children = [child for child in wrapper if isinstance(child.tag, str)]
    if (
        children
        and all(child.tag == "pre" for child in children)
        and not (wrapper.text or "").strip()
    ):
        if not _fold_pre(wrapper):
            return body
        return html_lib.escape(wrapper.text or "", quote=False) + "".join(
            etree.tostring(child, encoding="unicode", method="html") for child in wrapper
        )
    parts = quotequail.quote_html(body, limit=MAX_LINES, quote_intro_line=True)
    if len(parts) < 2:
        return body
    new, quoted = _inner_html(parts[0][1]), _inner_html(parts[1][1])
    if not quoted.strip():
        return body
    return f'{new}<div {QUOTE_ATTRIBUTE}="1">{quoted}</div>'

"""An HTML field that a wave of the converter's batch sanitises once per value."""

from odoo import fields

from ..tools.wave_memo import memo_of

# Longer values are sanitised each time: the wave's memo keeps what it is given.
MAX_SHARED_CHARS = 500_000


class WaveSanitizedHtml(fields.Html):
    """``fields.Html``, except inside a wave (``tools.wave_memo``): a new ticket's
    description and its first message's body are the same email body, sanitised with the
    same options; the second gets the first's result. ``html_sanitize`` (silent) is a pure
    function of the value and the options, so the result is the same. Elsewhere nothing
    differs."""

    def _convert(self, value, record, validate):
        memo = memo_of(record.env) if validate and self.sanitize else None
        if (
            memo is None
            or self.sanitize_overridable
            or not isinstance(value, str)
            or len(value) > MAX_SHARED_CHARS
        ):
            return super()._convert(value, record, validate)
        key = (
            str(value),
            self.sanitize_tags,
            self.sanitize_attributes,
            self.sanitize_style,
            self.sanitize_form,
            self.sanitize_conditional_comments,
            self.sanitize_output_method,
            self.strip_style,
            self.strip_classes,
        )
        return memo.answer(
            "html sanitised",
            key,
            lambda: super(WaveSanitizedHtml, self)._convert(value, record, validate),
        )

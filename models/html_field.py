"""HTML fields sanitise an email's body once per conversion, not once per copy.

Odoo's ``fields.Html`` sanitises every value it stores. A converted email's body is
stored twice with the same options (the ticket's description and the message's body):
while the converter posts, its environment carries the run's cache
(``mail_converter_run_cache``, see ``tools.run_cache``), and a text sanitised once with
the same options is given the kept result: what the sanitiser would return again,
never a value it did not produce. Fields a privileged user may store unsanitised
(``sanitize_overridable``) always go through Odoo's own check.
"""

from odoo.orm import fields_textual

from ..tools.run_cache import RunCache

_odoo_convert = fields_textual.Html._convert


def _options(field):
    """The options ``fields.Html._convert`` passes to ``html_sanitize`` for ``field``."""
    return (
        field.sanitize_tags,
        field.sanitize_attributes,
        field.sanitize_style,
        field.sanitize_form,
        field.sanitize_conditional_comments,
        field.sanitize_output_method,
        field.strip_style,
        field.strip_classes,
    )


def _convert(field, value, record, validate):
    cache = record.env.context.get("mail_converter_run_cache")
    if (
        not isinstance(cache, RunCache)
        or not validate
        or not field.sanitize
        or field.sanitize_overridable
        or not isinstance(value, str)
        or not value
    ):
        return _odoo_convert(field, value, record, validate)
    return cache.sanitized(
        value, _options(field), lambda html: _odoo_convert(field, html, record, validate)
    )


fields_textual.Html._convert = _convert

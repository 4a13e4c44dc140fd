import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import safe_regex
from ..tools.source import TagPattern

_logger = logging.getLogger(__name__)
SEARCHED_BODY_CHARS = 20_000  # tags sit in subjects and quoted headers, not deep in long bodies


class MailConverterTag(models.Model):
    _name = "mail.converter.tag"
    _description = "ID tag linking an email to a record"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    regex = fields.Char(
        "Pattern",
        required=True,
        help="Regular expression found in the subject or body; its first group is the value looked up, "
        r"e.g. \[(HT\d+)\] finds the ticket number in [HT00042].",
    )
    model_id = fields.Many2one(
        "ir.model",
        "Record type",
        required=True,
        ondelete="cascade",
        domain=[("is_mail_thread", "=", True)],
    )
    model = fields.Char(related="model_id.model")
    field_id = fields.Many2one(
        "ir.model.fields",
        required=True,
        ondelete="cascade",
        domain="[('model_id', '=', model_id), ('ttype', 'in', ('char', 'integer')), ('store', '=', True)]",
        help="Field holding the value the pattern captures.",
    )
    search_body = fields.Boolean("Also search the body", default=True)
    # Security (multi-company): a tag of one company never reads another's mail.
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        help="Leave empty to use this tag in every company's mailboxes.",
    )

    @api.constrains("regex")
    def _check_regex(self):
        for tag in self:
            error = safe_regex.check(tag.regex)
            if error:
                raise ValidationError(
                    self.env._("Tag %(name)s: %(error)s", name=tag.name, error=error)
                )

    @api.model
    def _converter_patterns(self, company_id=None):
        """Active tags as plain values, read once per fetch run; unusable ones are skipped, not fatal.

        With ``company_id``, only that company's tags and the shared ones.
        """
        patterns = []
        domain = [("company_id", "in", [company_id, False])] if company_id else []
        for tag in self.sudo().search(domain):
            try:
                regex = safe_regex.compile(tag.regex)
            except safe_regex.UnsafePattern as exc:
                _logger.warning("Mail converter: ID tag %s ignored: %s", tag.name, exc)
                continue
            patterns.append(
                TagPattern(
                    tag.id,
                    tag.name,
                    regex,
                    tag.model_id.model,
                    tag.field_id.name,
                    tag.field_id.ttype,
                    tag.search_body,
                )
            )
        return tuple(patterns)

    @api.model
    def _find_records(self, patterns, subject, body, company_id=None):
        """Records named by tags in ``subject`` (and ``body``), as ``[(tag name, record)]``.

        With ``company_id``, records of other companies are left out (shared ones are kept).
        """
        found = []
        for pattern in patterns:
            texts = [subject or ""] + (
                [(body or "")[:SEARCHED_BODY_CHARS]] if pattern.search_body else []
            )
            values = []
            for text in texts:
                for match in pattern.regex.finditer(text):
                    value = match.group(1) if pattern.regex.groups else match.group(0)
                    if value and value not in values:
                        values.append(value)
            if pattern.field_type == "integer":
                values = [int(v) for v in values if str(v).isdigit()]
            if not values or pattern.model not in self.env:
                continue
            domain = [(pattern.field_name, "in", values)]
            if company_id and "company_id" in self.env[pattern.model]._fields:
                domain.append(("company_id", "in", [company_id, False]))
            records = self.env[pattern.model].sudo().search(domain, limit=len(values))
            found.extend((pattern.name, record) for record in records)
        return found

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import safe_regex
from ..tools.rules import Condition


class MailConverterRuleCondition(models.Model):
    _name = "mail.converter.rule.condition"
    _description = "Condition of a mail converter rule"
    _order = "rule_id, sequence, id"

    rule_id = fields.Many2one("mail.converter.rule", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    field = fields.Selection(
        [
            ("from", "From"),
            ("to", "To"),
            ("cc", "Cc"),
            ("subject", "Subject"),
            ("body", "Body"),
            ("header", "Other header"),
        ],
        required=True,
        default="subject",
    )
    header_name = fields.Char(
        "Header", help="Name of the header to look at, e.g. X-Priority or List-Id."
    )
    operator = fields.Selection(
        [
            ("contains", "contains"),
            ("not_contains", "does not contain"),
            ("equals", "equals"),
            ("starts_with", "starts with"),
            ("ends_with", "ends with"),
            ("regex", "matches regex"),
        ],
        required=True,
        default="contains",
    )
    value = fields.Char(required=True)
    case_sensitive = fields.Boolean(help="By default upper and lower case are the same.")

    @api.constrains("operator", "value", "field", "header_name")
    def _check_value(self):
        for condition in self:
            if condition.field == "header" and not (condition.header_name or "").strip():
                raise ValidationError(self.env._("Name the header the condition looks at."))
            if condition.operator == "regex":
                error = safe_regex.check(condition.value)
                if error:
                    raise ValidationError(
                        self.env._(
                            "Rule %(rule)s: %(error)s", rule=condition.rule_id.name, error=error
                        )
                    )

    def _to_condition(self):
        """This condition for the pure-Python evaluator."""
        self.ensure_one()
        return Condition(
            self.field, self.operator, self.value or "", self.header_name or "", self.case_sensitive
        )

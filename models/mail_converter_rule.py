from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import safe_regex
from ..tools.rules import Rule

ACTIONS = [
    ("ticket", "Create a ticket"),
    ("ticket_update", "Update the ticket, else create one"),
    ("lead", "Create a lead"),
    ("activity", "Activity for existing customers, else a lead"),
    ("link", "Only file on matching records"),
    ("discard", "Discard"),
]


class MailConverterRule(models.Model):
    _name = "mail.converter.rule"
    _description = "Mail converter rule"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    server_ids = fields.Many2many(
        "fetchmail.server",
        string="Mailboxes",
        domain=[("use_converter", "=", True)],
        check_company=True,
        help="Leave empty for every converter mailbox.",
    )
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound"), ("any", "Any")],
        required=True,
        default="inbound",
    )
    match = fields.Selection(
        [("any", "Any condition"), ("all", "All conditions")], required=True, default="any"
    )
    condition_ids = fields.One2many(
        "mail.converter.rule.condition", "rule_id", "Conditions", copy=True
    )
    action = fields.Selection(ACTIONS, required=True, default="ticket")
    tag_regex = fields.Char(
        "Ticket tag",
        default=r"\[(HT\d+)\]",
        help="For 'Update the ticket': its first group is the ticket number, e.g. \\[(HT\\d+)\\].",
    )
    private = fields.Boolean(help="Mark the imported email private.")
    # Security (multi-company): a rule reads its company's mailboxes only.
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        help="Leave empty to apply this rule to every company's mailboxes.",
    )
    stop = fields.Boolean("Stop processing further rules", default=True)
    # Ticket defaults
    team_id = fields.Many2one("helpdesk.ticket.team", "Helpdesk team")
    user_id = fields.Many2one("res.users", "Assigned to", domain=[("share", "=", False)])
    priority = fields.Selection(
        [("0", "Low"), ("1", "Medium"), ("2", "High"), ("3", "Very High")], "Ticket priority"
    )
    category_id = fields.Many2one("helpdesk.ticket.category", "Ticket category")
    tag_ids = fields.Many2many("helpdesk.ticket.tag", string="Ticket tags")
    # Lead defaults
    lead_team_id = fields.Many2one("crm.team", "Sales team")
    lead_user_id = fields.Many2one("res.users", "Salesperson", domain=[("share", "=", False)])
    lead_stage_id = fields.Many2one("crm.stage", "Stage")
    lead_source_id = fields.Many2one("utm.source", "Source")
    lead_tag_ids = fields.Many2many("crm.tag", string="Lead tags")
    lead_type = fields.Selection([("lead", "Lead"), ("opportunity", "Opportunity")], default="lead")

    @api.constrains("tag_regex", "action")
    def _check_tag_regex(self):
        for rule in self.filtered(lambda r: r.action == "ticket_update"):
            error = safe_regex.check(rule.tag_regex)
            if error:
                raise ValidationError(
                    self.env._("Rule %(rule)s: %(error)s", rule=rule.name, error=error)
                )

    @api.model
    def _converter_rules(self, company_id=None):
        """Active rules for the evaluator, with what their actions need, read once per fetch run.

        With ``company_id``, only that company's rules and the shared ones.
        """
        domain = [("company_id", "in", [company_id, False])] if company_id else []
        return tuple(rule._converter_rule() for rule in self.sudo().search(domain))

    def _converter_rule(self):
        """This rule as a plain :class:`tools.rules.Rule`; override to carry more settings."""
        self.ensure_one()
        return Rule(
            self.id,
            self.name,
            tuple(c._to_condition() for c in self.condition_ids),
            self.match,
            frozenset(self.server_ids.ids),
            self.direction,
            self.stop,
            self.action,
            private=self.private,
            tag_regex=self.tag_regex or "",
            user_id=(self.lead_user_id if self.action == "activity" else self.user_id).id,
            ticket_values=self._ticket_values(),
            lead_values=self._lead_values(),
        )

    def _ticket_values(self):
        """Values of a ticket this rule creates; override to add fields."""
        self.ensure_one()
        values = {
            "channel_id": self.env.ref(
                "helpdesk_mgmt.helpdesk_ticket_channel_email", raise_if_not_found=False
            ).id
            or False
        }
        for name in ("team_id", "user_id", "category_id"):
            if self[name]:
                values[name] = self[name].id
        if self.priority:
            values["priority"] = self.priority
        if self.tag_ids:
            values["tag_ids"] = [fields.Command.set(self.tag_ids.ids)]
        return values

    def _lead_values(self):
        """Values of a lead this rule creates; override to add fields."""
        self.ensure_one()
        values = {"type": self.lead_type or "lead"}
        for name, target in (
            ("lead_team_id", "team_id"),
            ("lead_user_id", "user_id"),
            ("lead_stage_id", "stage_id"),
            ("lead_source_id", "source_id"),
        ):
            if self[name]:
                values[target] = self[name].id
        if self.lead_tag_ids:
            values["tag_ids"] = [fields.Command.set(self.lead_tag_ids.ids)]
        return values

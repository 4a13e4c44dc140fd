from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import bans
from ..tools.addresses import email_domain, is_freemail, normalize_email


class MailConverterBan(models.Model):
    """A banned sender: their email is logged as rejected and creates nothing."""

    _name = "mail.converter.ban"
    _description = "Banned email sender"
    _order = "id desc"
    _rec_name = "pattern"

    pattern = fields.Char(
        required=True,
        help="An address (someone@example.com) or a whole domain (@example.com). "
        "Free-mail domains such as @gmail.com cannot be banned as a whole.",
    )
    reason = fields.Char(help="Why this sender is banned; shown on the log of each rejected email.")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        help="Leave empty to ban the sender for every company.",
    )
    rejected_count = fields.Integer(
        "Rejected emails", compute="_compute_rejected_count", compute_sudo=True
    )

    _pattern_company_unique = models.UniqueIndex(
        "(pattern, COALESCE(company_id, 0)) WHERE active",
        "This sender is already banned.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("pattern"):
                vals["pattern"] = bans.normalize_pattern(vals["pattern"]) or vals["pattern"]
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("pattern"):
            vals["pattern"] = bans.normalize_pattern(vals["pattern"]) or vals["pattern"]
        return super().write(vals)

    @api.constrains("pattern")
    def _check_pattern(self):
        for ban in self:
            if bans.normalize_pattern(ban.pattern) != ban.pattern:
                raise ValidationError(
                    self.env._(
                        "%(pattern)s is neither an address (someone@example.com) nor a domain "
                        "(@example.com).",
                        pattern=ban.pattern,
                    )
                )
            if ban.pattern.startswith("@") and is_freemail(ban.pattern[1:]):
                raise ValidationError(
                    self.env._(
                        "%(pattern)s is a free-mail domain: ban the sender's address instead.",
                        pattern=ban.pattern,
                    )
                )
            why = ban._converter_protected_reason(ban.pattern)
            if why:
                raise ValidationError(
                    self.env._(
                        "%(pattern)s cannot be banned: %(why)s.", pattern=ban.pattern, why=why
                    )
                )

    @api.model
    def _converter_protected_reason(self, pattern):
        """Why ``pattern`` must never be banned (one of our own domains, or the address of a
        user or a mailbox), else ``""``; override to protect more."""
        if not pattern:
            return ""
        if pattern.startswith("@"):
            if pattern[1:] in self._converter_own_domains():
                return self.env._("it is one of the company's own domains")
            return ""
        if pattern in self._converter_own_addresses():
            return self.env._("it is the address of a user or a mailbox of the company")
        return ""

    @api.model
    def _converter_own_addresses(self):
        """Normalised addresses of internal users and converter mailboxes."""
        users = (
            self.env["res.users"]
            .sudo()
            .with_context(active_test=False)
            .search([("share", "=", False)])
        )
        own = set(users.partner_id.mapped("email_normalized"))
        own |= self.env["fetchmail.server"]._converter_mailbox_addresses()
        own.discard(False)
        return own

    @api.model
    def _converter_own_domains(self):
        """Our own domains: of the mailboxes, the alias domains, the internal users' and the
        companies' addresses (free-mail domains aside)."""
        addresses = set(self._converter_own_addresses())
        addresses |= {normalize_email(c.email) for c in self.env["res.company"].sudo().search([])}
        domains = {email_domain(a) for a in addresses if a}
        domains |= set(self.env["mail.alias.domain"].sudo().search([]).mapped("name"))
        return {d.lower() for d in domains if d and not is_freemail(d)}

    def _compute_rejected_count(self):
        Log = self.env["mail.converter.log"]
        for ban in self:
            ban.rejected_count = (
                Log.search_count([("ban_id", "=", ban.id)]) if isinstance(ban.id, int) else 0
            )

    def action_open_rejected(self):
        """The emails this ban rejected."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_converter.action_mail_converter_log"
        )
        action["domain"] = [("ban_id", "=", self.id)]
        return action

    @api.model
    def _converter_bans(self, company_id):
        """Active bans that apply to a mailbox of ``company_id``, as plain values read once per run."""
        records = self.sudo().search([("company_id", "in", [company_id or False, False])])
        return tuple(bans.Ban(ban.id, ban.pattern, ban.reason or "") for ban in records)

    @api.model
    def _converter_ban_senders(self, patterns, reason, company):
        """Ban each normalised pattern not yet banned for ``company``; return the bans, old and new."""
        result = self.browse()
        for pattern in dict.fromkeys(p for p in patterns if p):
            existing = self.search(
                [("pattern", "=", pattern), ("company_id", "in", [company.id, False])], limit=1
            )
            result |= existing or self.create(
                {"pattern": pattern, "reason": reason, "company_id": company.id}
            )
        return result

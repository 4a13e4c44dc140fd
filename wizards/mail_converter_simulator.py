import base64

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.mail_converter_log import STATES
from ..tools.source import Origin


class MailConverterSimulator(models.TransientModel):
    _name = "mail.converter.simulator"
    _description = "Try the rules on an email without importing it"

    server_id = fields.Many2one(
        "fetchmail.server",
        "Mailbox",
        required=True,
        domain=[("use_converter", "=", True)],
        default=lambda self: self.env["fetchmail.server"].search(
            [("use_converter", "=", True)], limit=1
        ),
    )
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")], required=True, default="inbound"
    )
    eml_file = fields.Binary("Email file (.eml)")
    eml_filename = fields.Char()
    eml_text = fields.Text("Or paste the email source")
    log_id = fields.Many2one(
        "mail.converter.log", "Or a logged email", domain=[("raw_attachment_id", "!=", False)]
    )
    simulated = fields.Boolean(readonly=True)
    outcome = fields.Char(readonly=True)
    addresses_html = fields.Html("Addresses and headers", readonly=True, sanitize=True)
    matches_html = fields.Html("Matched records", readonly=True, sanitize=True)
    verdicts_html = fields.Html("Rules", readonly=True, sanitize=True)
    stages_html = fields.Html("How it was decided", readonly=True, sanitize=True)
    plan_state = fields.Selection(STATES, "Resulting state", readonly=True)
    plan_route = fields.Char(
        "Resulting record",
        readonly=True,
        help="model,id of the record the email is posted on; 'new' when it creates one.",
    )
    # helpdesk workflow
    auto_reply = fields.Char("Acknowledgement", readonly=True)

    def _raw(self):
        """The email to simulate, as bytes."""
        self.ensure_one()
        if self.eml_file:
            return base64.b64decode(self.eml_file)
        if self.eml_text:
            return self.eml_text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        if self.log_id:
            # The original is read as sudo: only for a row this user may read (company, privacy).
            self.log_id.check_access("read")
        if self.log_id and self.log_id._converter_raw_attachment():
            return self.log_id._converter_raw()  # only the row's own original (security)
        raise UserError(self.env._("Upload an .eml file, paste an email or pick a logged email."))

    def action_simulate(self):
        """Show what the converter would do with the email; nothing is written (all is rolled back)."""
        self.ensure_one()
        raw = self._raw()
        # The planner writes nothing; the savepoint guards against overrides that would.
        with self.env.cr.savepoint() as savepoint:
            values = self._simulate(raw)
            savepoint.rollback()
        self.write(dict(values, simulated=True))
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Simulation"),
        }

    @api.model
    def _html_table(self, header, rows):
        head = Markup("").join(Markup("<th>%s</th>") % h for h in header)
        body = Markup("").join(
            Markup("<tr>%s</tr>") % Markup("").join(Markup("<td>%s</td>") % c for c in row)
            for row in rows
        )
        return Markup(
            '<table class="table table-sm o_mail_converter_simulation"><thead><tr>%s</tr></thead>'
            "<tbody>%s</tbody></table>"
        ) % (head, body)

    def _simulate(self, raw):
        """Build the pipeline's own plan for ``raw`` and describe it; nothing is written."""
        Planner = self.env["mail.converter.planner"]
        source = self.server_id._converter_source()
        folder = self.server_id.converter_folder_ids.filtered(
            lambda f: f.direction == self.direction
        )[:1]
        origin = folder._converter_origin() if folder else Origin(direction=self.direction)
        mail = self.env["mail.converter.reader"]._converter_read(raw, source, origin)
        if self.log_id and not (self.eml_file or self.eml_text):
            mail.log_id = self.log_id.id  # replaying a logged copy: it is not a duplicate of itself
        plan = Planner._converter_plan(mail, source)
        return self._simulation_values(mail, plan)

    def _simulation_values(self, mail, plan):
        """What the wizard shows of ``plan``; override to show more."""
        headers = [(a.role, a.name, a.email) for a in mail.matches.addresses]
        headers += [
            (name, "", value)
            for name, value in mail.summary.headers.items()
            if name
            in (
                "subject",
                "date",
                "message-id",
                "in-reply-to",
                "sensitivity",
                "list-id",
                "auto-submitted",
                "precedence",
            )
        ]
        if mail.sender_auth:  # C11
            headers.append(
                ("sender authentication", mail.sender_auth.outcome, mail.sender_auth.detail)
            )
        filed = []
        for link in plan.links:
            name = (
                self.env[link.model].sudo().browse(link.res_id).display_name
                if link.res_id
                else self.env._("(new) %(email)s", email=link.email)
            )
            filed.append((link.model, name, link.reason))
        steps = [
            (stage.removeprefix("_plan_").replace("_", " "), what) for stage, what in plan.stages
        ]
        outcome = self.env["mail.converter.planner"]._converter_describe(plan)
        if plan.notes:
            outcome += " (" + "; ".join(plan.notes) + ")"
        return {
            "outcome": outcome,
            "plan_state": plan.state,
            "plan_route": ",".join(map(str, plan.route.key())) if plan.route else False,
            "addresses_html": self._html_table(["Header", "Name", "Value"], headers),
            "matches_html": self._html_table(["Type", "Record", "Why"], filed)
            if filed
            else Markup("<p>No record holds these addresses.</p>"),
            "verdicts_html": Markup("<pre>%s</pre>")
            % ("\n".join(plan.verdicts) or self.env._("No rule applies to this mailbox.")),
            "stages_html": self._html_table(["Stage", "Decided"], steps) if steps else False,
            # helpdesk workflow
            "auto_reply": (
                f"{self.env._('Yes') if plan.auto_reply.yes else self.env._('No')}: "
                f"{plan.auto_reply.reason}"
                if plan.auto_reply.reason
                else False
            ),
        }

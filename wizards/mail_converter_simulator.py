import base64

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import mime


class MailConverterSimulator(models.TransientModel):
    _name = "mail.converter.simulator"
    _description = "Try the rules on an email without importing it"

    server_id = fields.Many2one(
        "fetchmail.server", "Mailbox", required=True, domain=[("use_converter", "=", True)],
        default=lambda self: self.env["fetchmail.server"].search([("use_converter", "=", True)], limit=1),
    )
    direction = fields.Selection([("inbound", "Inbound"), ("outbound", "Outbound")], required=True,
                                 default="inbound")
    eml_file = fields.Binary("Email file (.eml)")
    eml_filename = fields.Char()
    eml_text = fields.Text("Or paste the email source")
    log_id = fields.Many2one("mail.converter.log", "Or a logged email",
                             domain=[("raw_attachment_id", "!=", False)])
    simulated = fields.Boolean(readonly=True)
    outcome = fields.Char(readonly=True)
    addresses_html = fields.Html("Addresses and headers", readonly=True, sanitize=True)
    matches_html = fields.Html("Matched records", readonly=True, sanitize=True)
    verdicts_html = fields.Html("Rules", readonly=True, sanitize=True)

    def _raw(self):
        """The email to simulate, as bytes."""
        self.ensure_one()
        if self.eml_file:
            return base64.b64decode(self.eml_file)
        if self.eml_text:
            return self.eml_text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        if self.log_id.raw_attachment_id:
            return base64.b64decode(self.log_id.raw_attachment_id.datas)
        raise UserError(self.env._("Upload an .eml file, paste an email or pick a logged email."))

    def action_simulate(self):
        """Show what the converter would do with the email; nothing is written (all is rolled back)."""
        self.ensure_one()
        raw = self._raw()
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
            Markup("<tr>%s</tr>") % Markup("").join(Markup("<td>%s</td>") % c for c in row) for row in rows)
        return Markup('<table class="table table-sm o_mail_converter_simulation"><thead><tr>%s</tr></thead>'
                      "<tbody>%s</tbody></table>") % (head, body)

    def _simulate(self, raw):
        """Run the decision stages of the pipeline on ``raw`` and describe the result."""
        converter = self.env["mail.converter"]
        summary = mime.summarize(raw)
        folder = self.server_id.folder_ids.filtered(lambda f: f.direction == self.direction)[:1]
        source = dict(self.server_id._converter_settings(), folder=folder, direction=self.direction,
                      after_action="keep", uid=0, uidl=False, uidvalidity=0)
        message = converter._parse_message(raw)
        mime.repair_charsets(message)
        MailThread = converter._mail_thread(source)
        msg_dict = MailThread.message_parse(message)
        matches = converter._match(summary, source)

        headers = [(a.role, a.name, a.email) for a in matches.addresses]
        headers += [(name, "", value) for name, value in summary.headers.items()
                    if name in ("subject", "date", "message-id", "in-reply-to", "sensitivity", "list-id",
                                "auto-submitted", "precedence")]
        matched = []
        for link in matches.links:
            record = self.env[link.model].sudo().browse(link.res_id)
            matched.append((link.model, record.display_name, link.reason))
        values = {
            "addresses_html": self._html_table(["Header", "Name", "Value"], headers),
            "matches_html": self._html_table(["Type", "Record", "Why"], matched)
            if matched else Markup("<p>No record holds these addresses.</p>"),
        }
        reason = converter._discard_reason(message, msg_dict, source, matches)
        rule, trace, private = converter._decide(summary, msg_dict, source, matches, explain=True)
        values["verdicts_html"] = Markup("<pre>%s</pre>") % (trace or self.env._("No rule applies to this mailbox."))
        if reason:
            return dict(values, outcome=self.env._("Discarded: %(reason)s", reason=reason))
        if rule and rule.action == "discard":
            return dict(values, outcome=self.env._("Discarded by rule %(rule)s", rule=rule.name))
        try:
            routes = converter._routes(message, msg_dict, source)
        except ValueError:
            routes = []
        routes = converter._tag_routes(msg_dict, source, matches, routes)
        if source["rules"]:
            routes = converter._rule_routes(rule, routes, msg_dict, source, matches)
        routes = routes or converter._fallback_routes(msg_dict, source, matches, link_only=bool(source["rules"]))
        outcome = self._describe_route(routes, rule)
        if private:
            outcome += self.env._(", marked private")
        return dict(values, outcome=outcome)

    def _describe_route(self, routes, rule):
        if not routes:
            return self.env._("Discarded: no destination record")
        model, thread_id = routes[0][0], routes[0][1]
        by = self.env._(" (rule %(rule)s)", rule=rule.name) if rule else ""
        if thread_id:
            record = self.env[model].sudo().browse(thread_id)
            return self.env._("File on %(type)s %(record)s%(by)s",
                              type=self.env["ir.model"]._get(model).name, record=record.display_name, by=by)
        return self.env._("Create a new %(type)s%(by)s", type=self.env["ir.model"]._get(model).name, by=by)

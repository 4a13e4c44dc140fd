from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install", "mail_converter")
class TestUi(HttpCase):
    def test_rule_and_simulator_tour(self):
        self.env["mail.converter.rule"].search([]).action_archive()
        self.env["fetchmail.server"].search([]).action_archive()
        server = self.env["fetchmail.server"].create(
            {
                "name": "Tour mailbox",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": 1,
                "user": "support",
                "password": "support",
                "use_converter": True,
                "object_id": self.env["ir.model"]._get("helpdesk.ticket").id,
            }
        )
        counts = self._counts()
        self.start_tour(
            "/odoo/action-mail_converter.action_mail_converter_rule",
            "mail_converter_rule_simulator",
            login="admin",
        )
        rule = self.env["mail.converter.rule"].search([("name", "=", "Tour urgent mail")])
        self.assertRecordValues(rule, [{"action": "ticket", "stop": True, "direction": "inbound"}])
        self.assertRecordValues(
            rule.condition_ids, [{"field": "subject", "operator": "contains", "value": "urgent"}]
        )
        self.assertFalse(
            self.env["helpdesk.ticket"].search([("name", "ilike", "printer on fire")]),
            "the simulator created nothing",
        )
        counts["mail.converter.rule"] += 1  # the rule the tour wrote; nothing else changed
        self.assertEqual(self._counts(), counts)
        self.assertFalse(server.converter_log_ids, "a simulation is not logged")

    def _counts(self):
        counts = {
            model: self.env[model].search_count([])
            for model in (
                "helpdesk.ticket",
                "crm.lead",
                "res.partner",
                "mail.converter.log",
                "mail.converter.rule",
            )
        }
        # OdooBot greets a user's first login in Discuss: not the simulator's doing.
        counts["mail.message"] = self.env["mail.message"].search_count(
            [("model", "!=", "discuss.channel")]
        )
        return counts

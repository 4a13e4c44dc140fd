from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install", "mail_converter")
class TestUi(HttpCase):
    def test_rule_and_simulator_tour(self):
        self.env["mail.converter.rule"].search([]).action_archive()
        self.env["fetchmail.server"].search([]).action_archive()
        server = self.env["fetchmail.server"].create({
            "name": "Tour mailbox", "server_type": "imap", "server": "127.0.0.1", "port": 1,
            "user": "support", "password": "support", "use_converter": True,
            "object_id": self.env["ir.model"]._get("helpdesk.ticket").id,
        })
        self.start_tour("/odoo/action-mail_converter.action_mail_converter_rule",
                        "mail_converter_rule_simulator", login="admin")
        rule = self.env["mail.converter.rule"].search([("name", "=", "Tour urgent mail")])
        self.assertRecordValues(rule, [{"action": "ticket", "stop": True, "direction": "inbound"}])
        self.assertRecordValues(rule.condition_ids, [{"field": "subject", "operator": "contains", "value": "urgent"}])
        self.assertFalse(self.env["helpdesk.ticket"].search([("name", "ilike", "printer on fire")]),
                         "the simulator created nothing")
        self.assertTrue(server.exists())

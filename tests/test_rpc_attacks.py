"""Issue 18's attacks by a plain helpdesk user over real JSON-RPC (a logged-in browser
session posting to ``/web/dataset/call_kw``), not only through the ORM in a test
transaction: the mark-as-spam wizard and the context keys of the converter's import."""

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

STAFF_GROUPS = (
    "base.group_user,helpdesk_mgmt.group_helpdesk_user,sales_team.group_sale_salesman_all_leads"
)


@tagged("post_install", "-at_install", "mail_converter")
class TestRpcAttacks(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = new_test_user(
            cls.env, "mc_rpc_agent", groups=STAFF_GROUPS, email="agent@ourcompany.example"
        )
        cls.peer = new_test_user(
            cls.env, "mc_rpc_peer", groups=STAFF_GROUPS, email="peer@ourcompany.example"
        )
        Partner = cls.env["res.partner"].sudo()
        cls.spammer = Partner.create({"name": "Pills", "email": "pills@spam.example"})
        cls.spammer.mail_converter_created = True  # as the converter would have created it
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {
                "name": "Cheap pills",
                "description": "x",
                "partner_id": cls.spammer.id,
                "partner_email": "pills@spam.example",
            }
        )
        cls.bob = Partner.create({"name": "Bob", "email": "bob@acme.example"})
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Secret merger",
                "partner_id": cls.bob.id,
                "user_id": cls.agent.id,
                "mail_converter_all_private": True,
            }
        )

    def _call(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def test_spam_wizard_over_rpc(self):
        """A helpdesk user may mark as spam, with their own rights: the ticket is closed and
        archived (not deleted), the contact kept; a domain ban is refused."""
        self.authenticate("mc_rpc_agent", "mc_rpc_agent")
        action = self._call("helpdesk.ticket", "action_mail_converter_spam", [self.ticket.ids])
        wizard_id = action["res_id"]
        self._call("mail.converter.spam", "write", [[wizard_id], {"ban_scope": "domain"}])
        with self.assertRaises(JsonRpcException) as caught:
            self._call("mail.converter.spam", "action_confirm", [[wizard_id]])
        self.assertIn("AccessError", str(caught.exception))
        Ban = self.env["mail.converter.ban"].sudo()
        self.assertFalse(Ban.search([("pattern", "like", "spam.example")]))
        self.env.invalidate_all()
        self.assertTrue(self.ticket.active)
        # Nor by writing the ban directly.
        with self.assertRaises(JsonRpcException) as caught:
            self._call("mail.converter.ban", "create", [{"pattern": "@spam.example"}])
        self.assertIn("AccessError", str(caught.exception))
        # The sender's address: banned, the ticket archived, nothing deleted.
        self._call("mail.converter.spam", "write", [[wizard_id], {"ban_scope": "address"}])
        self._call("mail.converter.spam", "action_confirm", [[wizard_id]])
        self.env.invalidate_all()
        self.assertTrue(self.ticket.exists(), "a helpdesk user may not delete tickets")
        self.assertFalse(self.ticket.active)
        self.assertTrue(self.ticket.stage_id.closed)
        self.assertTrue(self.spammer.exists(), "nor contacts")
        self.assertEqual(
            Ban.search([("pattern", "like", "spam.example")]).pattern, "pills@spam.example"
        )
        # Deleting directly is refused too, and the converter's flag cannot be planted.
        with self.assertRaises(JsonRpcException):
            self._call("helpdesk.ticket", "unlink", [self.ticket.ids])
        with self.assertRaises(JsonRpcException):
            self._call("res.partner", "write", [self.bob.ids, {"mail_converter_created": True}])
        self.env.invalidate_all()
        self.assertTrue(self.ticket.exists())
        self.assertFalse(self.bob.mail_converter_created)

    def test_import_context_keys_over_rpc_do_not_skip_all_emails_private(self):
        """What a JSON-RPC caller can put in its context (today's key and the old ones, with
        plain values) never makes a staff post skip *All emails private*."""
        self.authenticate("mc_rpc_agent", "mc_rpc_agent")
        contexts = [
            {"mail_converter_importing": True},
            {"mail_converter_importing": 1},
            {"mail_converter_importing": {"importing": True}},
            {"mail_converter_posted": True},
            {"mail_converter_private": {}},
            {"mail_converter_importing": True, "mail_converter_private": [["<x@y>", ""]]},
        ]
        for context in contexts:
            with self.subTest(context=context):
                message_id = self._call(
                    "crm.lead",
                    "message_post",
                    [self.lead.ids],
                    {
                        "body": "Our offer: 1 million",
                        "message_type": "comment",
                        "subtype_xmlid": "mail.mt_comment",
                        "partner_ids": self.bob.ids,
                        "context": context,
                    },
                )
                if isinstance(message_id, list):
                    message_id = message_id[0]
                message = self.env["mail.message"].sudo().browse(message_id)
                self.env.invalidate_all()
                self.assertTrue(message.mail_converter_private, context)
                found = (
                    self.env["mail.message"].with_user(self.peer).search([("id", "=", message_id)])
                )
                self.assertFalse(found, "a colleague does not see it")

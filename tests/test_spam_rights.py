"""Mark as spam with the user's own rights (C11, issue 18): what a plain helpdesk user can
and cannot do through the wizard, as that user (every call goes through the ORM's checks,
as over RPC)."""

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import MailConverterCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestSpamRights(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = new_test_user(
            cls.env,
            "mc_spam_agent",
            email="agent@ourcompany.example",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_user",
        )
        cls.manager = new_test_user(
            cls.env,
            "mc_spam_manager",
            email="boss@ourcompany.example",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_manager,"
            "mail_converter.group_mail_converter_manager,base.group_partner_manager",
        )

    def _ticket(self, subject, email_from):
        self.append(make_email(subject=subject, email_from=email_from))
        self.fetch()
        return self.tickets(subject)

    def _wizard(self, records, user, scope="address"):
        action = records.with_user(user).action_mail_converter_spam()
        wizard = self.env["mail.converter.spam"].browse(action["res_id"]).with_user(user)
        wizard.ban_scope = scope
        return wizard

    def test_a_helpdesk_user_cannot_delete_as_the_system(self):
        ticket = self._ticket("Cheap pills", "pills@spam.example")
        contact = ticket.partner_id
        self.assertTrue(contact.mail_converter_created)
        self.assertFalse(ticket.with_user(self.agent).has_access("unlink"))
        self._wizard(ticket, self.agent).action_confirm()
        self.assertTrue(ticket.exists(), "a helpdesk user may not delete tickets")
        self.assertFalse(ticket.active, "... so it is archived")
        self.assertTrue(ticket.stage_id.closed, "... and closed")
        self.assertTrue(contact.exists(), "nor delete contacts")
        self.assertTrue(
            self.env["mail.converter.ban"].search([("pattern", "=", "pills@spam.example")])
        )
        # A manager may delete: the same wizard deletes then.
        other = self._ticket("More pills", "more@spam.example")
        self._wizard(other, self.manager).action_confirm()
        self.assertFalse(other.exists())

    def test_a_helpdesk_user_cannot_ban_a_domain(self):
        ticket = self._ticket("Cheap watches", "watches@spam.example")
        with self.assertRaises(AccessError):
            self._wizard(ticket, self.agent, scope="domain").action_confirm()
        self.assertTrue(ticket.active)
        self.assertFalse(self.env["mail.converter.ban"].search([("pattern", "=", "@spam.example")]))
        self._wizard(ticket, self.manager, scope="domain").action_confirm()
        self.assertTrue(self.env["mail.converter.ban"].search([("pattern", "=", "@spam.example")]))

    def test_nobody_bans_our_own_domain_or_users(self):
        ticket = self._ticket("Lunch?", "colleague@ourcompany.example")
        result = self._wizard(ticket, self.manager, scope="domain").action_confirm()
        self.assertIn("@ourcompany.example not banned", result["params"]["message"])
        Ban = self.env["mail.converter.ban"]
        self.assertFalse(Ban.search([("pattern", "like", "ourcompany.example")]))
        for pattern in ("@ourcompany.example", "agent@ourcompany.example"):
            with self.assertRaises(ValidationError):
                Ban.create({"pattern": pattern})
        with self.assertRaises(ValidationError):
            Ban.with_user(self.manager).create({"pattern": "boss@ourcompany.example"})

    def test_the_created_flag_is_written_by_the_converter_only(self):
        contact = (
            self.env["res.partner"]
            .with_user(self.manager)
            .create(
                {
                    "name": "Planted",
                    "email": "planted@customer.example",
                    "mail_converter_created": True,
                }
            )
        )
        self.assertFalse(contact.mail_converter_created)
        with self.assertRaises(AccessError):
            contact.with_user(self.manager).write({"mail_converter_created": True})

    def test_a_contact_referenced_anywhere_is_kept(self):
        ticket = self._ticket("Invoice query", "billing@customer.example")
        contact = ticket.partner_id
        self.env["res.partner.bank"].create(
            {"acc_number": "BE71096123456769", "partner_id": contact.id}
        )
        result = self._wizard(ticket, self.manager).action_confirm()
        self.assertFalse(ticket.exists())
        self.assertTrue(contact.exists())
        self.assertIn("kept: it has Bank Accounts records", result["params"]["message"])

"""Other modules' own tests while they load, before this module's Python is loaded."""

import base64
from contextlib import ExitStack
from types import MappingProxyType
from unittest.mock import patch

from odoo import models
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install", "mail_converter")
class TestRulesBeforeLoading(TransactionCase):
    """With tests enabled, Odoo runs a module's at_install tests as it loads, before the
    modules depending on it: crm's tests run while the registry lacks this module's
    fields, but this module's record rules are in the database already. Those rules must
    hold (or stay neutral) then; crm's TestCRMLead.test_crm_lead_update_dates merges
    leads as a salesman, which reads attachments through the rules."""

    def _as_before_loading(self):
        """The registry as crm's tests see it: the fields this module adds are missing."""
        ours = self.env["ir.model.data"].search(
            [("module", "=", "mail_converter"), ("model", "=", "ir.model.fields")]
        )
        missing = {}
        for field in self.env["ir.model.fields"].browse(ours.mapped("res_id")).exists():
            if field.model not in self.env or field.model.startswith("mail.converter"):
                continue
            if field.name not in models.MAGIC_COLUMNS and field.name != "display_name":
                missing.setdefault(field.model, set()).add(field.name)
        stack = ExitStack()
        for model, names in missing.items():
            cls = type(self.env[model])
            kept = {name: f for name, f in cls._fields.items() if name not in names}
            stack.enter_context(patch.object(cls, "_fields", MappingProxyType(kept)))
        self.env.registry.clear_cache()  # the rules' domains are cached per registry
        stack.callback(self.env.registry.clear_cache)
        return stack

    def test_dependency_tests_pass_while_loading(self):
        salesman = new_test_user(
            self.env, "mc_loading_salesman", groups="sales_team.group_sale_salesman"
        )
        admin = new_test_user(
            self.env, "mc_loading_admin", groups="base.group_user,base.group_system"
        )
        leads = self.env["crm.lead"].create(
            [
                {"name": "Lead 1", "email_from": "merge@customer.example", "user_id": salesman.id},
                {"name": "Lead 2", "email_from": "merge@customer.example", "user_id": salesman.id},
            ]
        )
        self.env["ir.attachment"].create(
            {
                "name": "quote.txt",
                "datas": base64.b64encode(b"quote"),
                "res_model": "crm.lead",
                "res_id": leads[1].id,
            }
        )
        leads[0].message_post(body="Hello", message_type="comment")
        self.env.flush_all()
        with self._as_before_loading():
            self.assertNotIn("mail_converter_message_ids", self.env["ir.attachment"]._fields)
            # What crm's merge (_merge_dependences_attachments) reads as the salesman.
            self.assertEqual(
                self.env["ir.attachment"]
                .with_user(salesman)
                .search([("res_model", "=", "crm.lead"), ("res_id", "in", leads.ids)])
                .mapped("name"),
                ["quote.txt"],
            )
            # Messages are searched through this module's own override (not loaded then):
            # the rule's domain alone must hold.
            Rule = self.env["ir.rule"].with_user(salesman)
            Rule._compute_domain("mail.message", "read").validate(self.env["mail.message"])
            self.assertFalse(self.env["fetchmail.server"].with_user(admin).search([]))

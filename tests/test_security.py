import os
import time

from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.service.model import call_kw
from odoo.tests import new_test_user, tagged

from .common import MailConverterCase, MailConverterDovecotCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestSecurity(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reader = new_test_user(
            cls.env, "mc_reader", groups="base.group_user,mail_converter.group_mail_converter_user"
        )
        cls.manager = new_test_user(
            cls.env,
            "mc_manager",
            groups="base.group_user,mail_converter.group_mail_converter_manager",
        )
        cls.employee = new_test_user(cls.env, "mc_employee", groups="base.group_user")
        cls.admin = new_test_user(cls.env, "mc_admin", groups="base.group_user,base.group_system")

    def test_password_readable_by_admins_only(self):
        self.assertEqual(self.server.with_user(self.admin).password, "support")
        for user in (self.manager, self.reader, self.employee):
            with self.assertRaises(AccessError, msg=user.login):
                self.server.with_user(user).read(["password"])

    def test_log_access(self):
        self.append(make_email(subject="Secret subject"))
        with patch_convert_failure(self):
            self.fetch()
        log = self.logs()
        self.assertEqual(log.with_user(self.reader).subject, "Secret subject")
        self.assertEqual(log.with_user(self.manager).state, "failed")
        with self.assertRaises(AccessError):
            log.with_user(self.employee).read(["subject"])
        with self.assertRaises(AccessError):
            log.with_user(self.reader).action_retry()
        with self.assertRaises(AccessError):
            log.with_user(self.reader).unlink()
        with self.assertRaises(AccessError):
            self.server.converter_folder_ids.with_user(self.reader).write(
                {"after_action": "delete"}
            )
        # Settings administrators manage the converter without extra configuration.
        self.assertTrue(self.admin.has_group("mail_converter.group_mail_converter_manager"))
        with self.enter_registry_test_mode():
            log.with_user(self.manager).action_retry()
        self.assertEqual(log.state, "done")


def patch_convert_failure(case):
    from unittest.mock import patch

    return patch.object(
        type(case.env["mail.converter"]), "_convert", side_effect=RuntimeError("boom")
    )


def _spec(arch, fields_info):
    """The web_read specification of a form, as the web client builds it from the view."""
    names = set(etree.fromstring(arch).xpath("//field[not(ancestor::field)]/@name"))
    return {
        name: {"fields": {"display_name": {}}} if fields_info[name].get("relation") else {}
        for name in names
    }


@tagged("post_install", "-at_install", "mail_converter")
class TestConverterAdministrator(MailConverterCase):
    """A converter administrator who is not a Settings administrator, through the ORM as RPC does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            "mc_admin_only_converter",
            groups="base.group_user,mail_converter.group_mail_converter_manager",
        )
        cls.reader = new_test_user(
            cls.env, "mc_reader2", groups="base.group_user,mail_converter.group_mail_converter_user"
        )
        cls.employee = new_test_user(cls.env, "mc_employee2", groups="base.group_user")
        cls.portal = new_test_user(cls.env, "mc_portal2", groups="base.group_portal")
        cls.partner = cls.env["res.partner"].create({"name": "Payroll holder"})
        cls.secret = cls.env["ir.attachment"].create(
            {
                "name": "payroll.eml",
                "raw": make_email(subject="Payroll of everyone", message_id="<payroll@x>"),
                "res_model": "res.partner",
                "res_id": cls.partner.id,
            }
        )

    def _failed_log(self, subject="Retry me"):
        self.append(make_email(subject=subject))
        with patch_convert_failure(self):
            self.fetch()
        log = self.logs(subject=subject)
        self.assertEqual(log.state, "failed")
        return log

    def test_screens_open_for_converter_administrators(self):
        log = self._failed_log()
        rule = self.env["mail.converter.rule"].create(
            {"name": "VIP", "action": "ticket", "server_ids": [fields.Command.link(self.server.id)]}
        )
        ban = self.env["mail.converter.ban"].create({"pattern": "@spam.example"})
        tag = self.env["mail.converter.tag"].search([], limit=1)
        records = {
            "fetchmail.server": self.server,
            "mail.converter.folder": self.server.converter_folder_ids,
            "mail.converter.rule": rule,
            "mail.converter.log": log,
            "mail.converter.ban": ban,
            "mail.converter.tag": tag,
        }
        for model, record in records.items():
            with self.subTest(model=model):
                Model = self.env[model].with_user(self.manager)
                views = Model.get_views([(False, "list"), (False, "form"), (False, "search")])
                fields_info = views["models"][model]["fields"]
                self.assertNotIn("password", fields_info)
                for view_type in ("list", "form"):
                    spec = _spec(views["views"][view_type]["arch"], fields_info)
                    (values,) = Model.browse(record.id).web_read(spec)
                    self.assertEqual(values["id"], record.id)
                if model not in ("fetchmail.server", "mail.converter.log"):
                    Model.onchange({}, [], spec)  # a new record's form
        # They manage rules, folders, tags and bans, and use the simulator; mailboxes are read-only.
        rule.with_user(self.manager).write({"name": "VIP customers"})
        self.server.converter_folder_ids.with_user(self.manager).write({"after_action": "seen"})
        with self.assertRaises(AccessError):
            self.server.with_user(self.manager).write({"name": "renamed"})
        simulator = (
            self.env["mail.converter.simulator"]
            .with_user(self.manager)
            .create({"server_id": self.server.id, "log_id": log.id})
        )
        simulator.action_simulate()
        self.assertEqual(simulator.plan_state, "done")
        # The mailboxes are on their menu.
        mailboxes_menu = self.env.ref("mail_converter.menu_mail_converter_mailboxes")
        self.assertIn(
            mailboxes_menu.id, self.env["ir.ui.menu"].with_user(self.manager)._visible_menu_ids()
        )

    def test_retry_only_by_converter_administrators(self):
        log = self._failed_log()
        Log = self.env["mail.converter.log"]
        for user in (self.portal, self.employee, self.reader):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                call_kw(Log.with_user(user), "action_retry", [log.ids], {})
        with self.enter_registry_test_mode():
            call_kw(Log.with_user(self.manager), "action_retry", [log.ids], {})
        self.assertEqual(log.state, "done")

    def test_log_rows_cannot_be_pointed_at_foreign_attachments(self):
        log = self._failed_log()
        own = log.raw_attachment_id
        self.assertEqual((own.res_model, own.res_id), ("mail.converter.log", log.id))
        other_folder = self.env["mail.converter.folder"].create(
            {"server_id": self.server.id, "path": "Other"}
        )
        Log = self.env["mail.converter.log"].with_user(self.manager)
        for field, value in (
            ("raw_attachment_id", self.secret.id),
            ("message_key", "<payroll@x>"),
            ("folder_id", other_folder.id),
            ("server_id", False),
            ("uid", 99),
            ("state", "failed"),
            ("mail_message_id", False),
        ):
            with self.subTest(field=field), self.assertRaises(AccessError):
                call_kw(Log, "write", [log.ids, {field: value}], {})
        self.assertEqual(log.raw_attachment_id, own)
        # A row that points elsewhere anyway (only the system can write it) is not retried from it.
        log.raw_attachment_id = self.secret
        with self.assertRaisesRegex(UserError, "not the original of"):
            log.with_user(self.manager).action_retry()
        self.assertFalse(self.tickets("Payroll of everyone"))
        # An archive import cannot be pointed at another file either.
        job = self.env["mail.converter.import.job"]._import_create(
            self.server,
            self.env["ir.attachment"].create({"name": "a.eml", "raw": make_email(subject="Mine")}),
        )
        with self.assertRaises(AccessError):
            call_kw(
                self.env["mail.converter.import.job"].with_user(self.manager),
                "write",
                [job.ids, {"attachment_id": self.secret.id}],
                {},
            )
        call_kw(
            self.env["mail.converter.import.job"].with_user(self.manager),
            "action_cancel",
            [job.ids],
            {},
        )
        self.assertEqual(job.state, "cancelled")


@tagged("post_install", "-at_install", "mail_converter")
class TestMailboxLoginAccess(MailConverterDovecotCase):
    """Nobody but a Settings administrator makes Odoo log in to a mailbox, whatever they call."""

    LOGIN_METHODS = ("fetch_mail", "button_confirm_login", "action_list_folders")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = [
            new_test_user(cls.env, "mc_login_portal", groups="base.group_portal"),
            new_test_user(cls.env, "mc_login_employee", groups="base.group_user"),
            new_test_user(
                cls.env,
                "mc_login_reader",
                groups="base.group_user,mail_converter.group_mail_converter_user",
            ),
            new_test_user(
                cls.env,
                "mc_login_manager",
                groups="base.group_user,mail_converter.group_mail_converter_manager",
            ),
        ]
        cls.admin = new_test_user(
            cls.env, "mc_login_admin", groups="base.group_user,base.group_system"
        )

    def _logins(self):
        """Logins of the mailbox user that Dovecot logged so far."""
        path = os.path.join(self.dovecot.dir, "dovecot.log")
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().count("Login: user=<support>")

    def _logins_after(self, expected, timeout=10.0):
        """The login count once Dovecot has logged ``expected`` logins (its log is asynchronous)."""
        deadline = time.monotonic() + timeout
        count = self._logins()
        while count < expected and time.monotonic() < deadline:
            time.sleep(0.1)
            count = self._logins()
        return count

    def test_no_login_reaches_the_mail_server_without_the_right(self):
        server = self.make_server()
        stock = self.make_server(use_converter=False, name="stock mailbox")
        before = self._logins()
        for user in self.users:
            for method in self.LOGIN_METHODS:
                for mailbox in (server, stock):
                    with (
                        self.subTest(user=user.login, method=method, mailbox=mailbox.name),
                        self.assertRaises(AccessError),
                    ):
                        call_kw(
                            self.env["fetchmail.server"].with_user(user),
                            method,
                            [mailbox.ids],
                            {},
                        )
        # The control: an administrator's connection test is one login, and Dovecot's log shows it.
        server.with_user(self.admin).button_confirm_login()
        self.assertEqual(self._logins_after(before + 1), before + 1)

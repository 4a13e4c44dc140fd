import time

from odoo.exceptions import AccessError, UserError
from odoo.service.model import call_kw
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

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

    # -- issue 9 part B: privilege paths ----------------------------------------------------
    def test_actions_that_log_in_are_for_settings_admins_only(self):
        portal = new_test_user(self.env, "mc_portal", groups="base.group_portal")
        for user in (portal, self.employee, self.reader, self.manager):
            for method in ("fetch_mail", "button_confirm_login", "action_list_folders"):
                with self.assertRaises(AccessError, msg=f"{user.login} {method}"):
                    getattr(self.server.with_user(user), method)()
        self.assertEqual(self.accounts["support"].logins, 0, "nobody logged in to the mailbox")
        self.server.with_user(self.admin).action_list_folders()
        self.assertEqual(self.accounts["support"].logins, 1)

    def test_converter_administrator_opens_every_screen(self):
        """The converter administrator manages the converter without Settings rights."""
        self.append(make_email(subject="Logged for the form"))
        self.fetch()
        log = self.logs()
        Rule = self.env["mail.converter.rule"].with_user(self.manager)
        self.assertFalse(self.manager.has_group("base.group_system"))
        for model in (
            "fetchmail.server",
            "mail.converter.rule",
            "mail.converter.folder",
            "mail.converter.log",
            "mail.converter.tag",
            "mail.converter.ban",
            "mail.converter.simulator",
        ):
            views = (
                self.env[model]
                .with_user(self.manager)
                .get_views([(False, "list"), (False, "form")])
            )
            self.assertTrue(views["views"]["form"]["arch"], model)
        self.assertEqual(Form(self.server.with_user(self.manager)).name, self.server.name)
        Server = self.env["fetchmail.server"].with_user(self.manager)
        arch = Server.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn('name="password"', arch, "no password for them")
        self.assertNotIn('name="button_confirm_login"', arch, "nor buttons that log in")
        with Form(Rule) as rule:
            rule.name = "VIP"
            rule.action = "ticket"
            rule.server_ids.add(self.server.with_user(self.manager))
        with Form(self.server.converter_folder_ids.with_user(self.manager)) as folder:
            folder.after_action = "seen"
        with Form(self.env["mail.converter.ban"].with_user(self.manager)) as ban:
            ban.pattern = "spam@spammer.example"
        with Form(self.env["mail.converter.tag"].with_user(self.manager)) as tag:
            tag.name = "Lead case"
            tag.regex = r"\[LC(\d+)\]"
            tag.model_id = self.env["ir.model"]._get("crm.lead")
            tag.field_id = self.env["ir.model.fields"]._get("crm.lead", "id")
        self.assertEqual(Form(log.with_user(self.manager)).subject, "Logged for the form")
        with Form(self.env["mail.converter.simulator"].with_user(self.manager)) as simulator:
            simulator.server_id = self.server.with_user(self.manager)
            simulator.eml_text = make_email(subject="Simulated").decode()
        simulator.record.action_simulate()
        self.assertTrue(simulator.record.outcome)

    def test_log_rows_cannot_be_pointed_at_other_data(self):
        self.append(make_email(subject="Failing"))
        with patch_convert_failure(self):
            self.fetch()
        log = self.logs()
        own = log.raw_attachment_id
        self.assertEqual((own.res_model, own.res_id), (log._name, log.id))
        secret = self.env["ir.attachment"].create(
            {
                "name": "payroll.eml",
                "raw": make_email(subject="Payroll"),
                "res_model": "res.partner",
            }
        )
        for values in (
            {"raw_attachment_id": secret.id},
            {"message_key": "<other@x>"},
            {"state": "failed"},
            {"server_id": False},
            {"folder_id": False},
        ):
            with self.assertRaises(AccessError, msg=str(values)):
                log.with_user(self.manager).write(values)
        # A row that points elsewhere anyway (written by an old version) reads nothing from it.
        log.sudo().raw_attachment_id = secret
        with self.assertRaisesRegex(UserError, "No original is stored"):
            log.with_user(self.manager).action_retry()
        simulator = (
            self.env["mail.converter.simulator"]
            .with_user(self.manager)
            .create({"server_id": self.server.id, "log_id": log.id})
        )
        with self.assertRaises(UserError):
            simulator.action_simulate()
        self.assertNotIn("Payroll", simulator.outcome or "")

    def test_imports_cannot_be_pointed_at_other_files(self):
        # The import reads its file through sudo(): pointed at any attachment, then resumed,
        # it would convert that attachment into log entries a converter administrator reads.
        partner = self.env["res.partner"].create({"name": "Payroll holder"})
        secret = self.env["ir.attachment"].create(
            {
                "name": "payroll.eml",
                "raw": make_email(subject="Payroll of everyone"),
                "res_model": "res.partner",
                "res_id": partner.id,
            }
        )
        upload = self.env["ir.attachment"].create(
            {"name": "mine.eml", "raw": make_email(subject="Mine")}
        )
        job = self.env["mail.converter.import.job"]._import_create(self.server, upload)
        Job = self.env["mail.converter.import.job"].with_user(self.manager)
        for field, value in (
            ("attachment_id", secret.id),
            ("server_id", self.server.id),
            ("position", 0),
            ("file_checksum", secret.checksum),
        ):
            with self.subTest(field=field), self.assertRaises(AccessError):
                call_kw(Job, "write", [job.ids, {field: value}], {})
        self.assertEqual(job.attachment_id, upload)
        call_kw(Job, "action_cancel", [job.ids], {})
        self.assertEqual(job.state, "cancelled")

    def test_links_are_written_by_the_converter_only(self):
        # "Filed on" and the Emails buttons read the links: nobody rewires them by hand.
        partner = self.env["res.partner"].create(
            {"name": "Alice Customer", "email": "alice@customer.example"}
        )
        other = self.env["res.partner"].create({"name": "Someone else"})
        self.append(make_email(subject="Filed on Alice"))
        self.fetch()
        link = self.logs(subject="Filed on Alice").link_ids.filtered(
            lambda link: link.model == "res.partner" and link.res_id == partner.id
        )
        self.assertTrue(link)
        with self.assertRaises(AccessError):
            call_kw(
                self.env["mail.converter.link"].with_user(self.manager),
                "write",
                [link.ids, {"res_id": other.id}],
                {},
            )
        self.assertEqual(link.res_id, partner.id)

    def test_new_mailboxes_use_verified_tls_and_others_show_a_warning(self):
        with Form(self.env["fetchmail.server"].with_context(default_use_converter=True)) as form:
            form.name = "New mailbox"
            form.server = "imap.example.com"
            form.user = "support@example.com"
            form.password = "x"
        server = form.record
        self.assertRecordValues(server, [{"is_ssl": True, "verify_tls": True, "port": 993}])
        self.assertFalse(server.converter_tls_warning)
        server.verify_tls = False
        self.assertIn("not verified", server.converter_tls_warning)
        server.write({"is_ssl": False, "starttls": False})
        self.assertIn("without encryption", server.converter_tls_warning)
        server.starttls = True
        server.verify_tls = True
        self.assertFalse(server.converter_tls_warning)
        arch = self.env["fetchmail.server"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="converter_tls_warning"', arch)


@tagged("post_install", "-at_install", "mail_converter")
class TestLoginByRpc(MailConverterDovecotCase, HttpCase):
    """Every mailbox method called by RPC as a portal or internal user: Dovecot sees no login."""

    def _logins(self, user):
        with open(f"{self.dovecot.dir}/dovecot.log", encoding="utf-8", errors="replace") as log:
            return sum(f"Login: user=<{user}>" in line for line in log)

    def _settle(self):
        """Wait until Dovecot has logged a login of ours (its log is written asynchronously)."""
        before = self._logins("archive")
        self.dovecot.imap("archive").logout()
        for _i in range(50):
            if self._logins("archive") > before:
                return
            time.sleep(0.1)

    def test_portal_and_internal_users_make_no_login(self):
        server = self.make_server()
        portal = new_test_user(self.env, "mc_rpc_portal", groups="base.group_portal")
        employee = new_test_user(self.env, "mc_rpc_employee", groups="base.group_user")
        manager = new_test_user(
            self.env,
            "mc_rpc_manager",
            groups="base.group_user,mail_converter.group_mail_converter_manager",
        )
        self.append(make_email(subject="Waiting on the server"))
        self._settle()
        before = self._logins("support")
        methods = ("fetch_mail", "button_confirm_login", "action_list_folders")
        for user in (portal, employee, manager):
            self.authenticate(user.login, user.login)
            for method in methods:
                with self.assertRaises(JsonRpcException, msg=f"{user.login} {method}") as caught:
                    self.make_jsonrpc_request(
                        f"/web/dataset/call_kw/fetchmail.server/{method}",
                        {
                            "model": "fetchmail.server",
                            "method": method,
                            "args": [[server.id]],
                            "kwargs": {},
                        },
                    )
                self.assertIn("AccessError", str(caught.exception))
        self._settle()
        self.assertEqual(self._logins("support"), before, "no login reached Dovecot")
        self.assertFalse(self.tickets("Waiting on the server"))
        # The check counts: a Settings administrator's test does log in.
        self.authenticate("admin", "admin")
        self.make_jsonrpc_request(
            "/web/dataset/call_kw/fetchmail.server/button_confirm_login",
            {
                "model": "fetchmail.server",
                "method": "button_confirm_login",
                "args": [[server.id]],
                "kwargs": {},
            },
        )
        self._settle()
        self.assertEqual(self._logins("support"), before + 1)


def patch_convert_failure(case):
    from unittest.mock import patch

    return patch.object(
        type(case.env["mail.converter"]), "_convert", side_effect=RuntimeError("boom")
    )

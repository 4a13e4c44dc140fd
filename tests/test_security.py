from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import MailConverterCase, make_email


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

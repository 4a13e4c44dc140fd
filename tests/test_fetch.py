import time
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from .common import MailConverterDovecotCase, make_email


@tagged("post_install", "-at_install", "mail_converter")
class TestFetch(MailConverterDovecotCase):
    def test_new_mail_converted_once(self):
        uid = self.append(
            make_email(subject="Printer on fire", message_id="<fire-1@customer.example>")
        )
        self.fetch()
        ticket = self.tickets("Printer on fire")
        self.assertEqual(len(ticket), 1)
        self.assertIn("the printer is on fire", ticket.description)
        self.assertIn("<fire-1@customer.example>", ticket.message_ids.mapped("message_id"))
        log = self.logs()
        self.assertRecordValues(
            log,
            [
                {
                    "state": "done",
                    "message_id": "<fire-1@customer.example>",
                    "uid": uid,
                    "direction": "inbound",
                    "model": "helpdesk.ticket",
                    "res_id": ticket.id,
                    "attempts": 1,
                }
            ],
        )
        # Filed on the ticket and on the contact made for its unknown sender (C6).
        self.assertEqual(
            [(link.model, link.res_id) for link in log.link_ids],
            [("helpdesk.ticket", ticket.id), ("res.partner", ticket.partner_id.id)],
        )
        self.assertTrue(ticket.partner_id.mail_converter_created)
        self.assertEqual(log.mail_message_id.res_id, ticket.id)
        self.assertEqual(self.server.converter_folder_ids.last_uid, uid)
        # Fetching never sets \Seen; the default after-action is 'keep'.
        self.assertNotIn("\\Seen", self.dovecot.messages("support")[uid])
        # A second run finds nothing new.
        self.fetch()
        self.assertEqual(len(self.tickets("Printer on fire")), 1)
        self.assertEqual(len(self.logs()), 1)
        self.assertEqual(self.server.converter_done_count, 1)

    def test_reply_lands_on_ticket(self):
        self.append(make_email(subject="Broken screen", message_id="<screen-1@customer.example>"))
        self.fetch()
        ticket = self.tickets("Broken screen")
        self.append(
            make_email(
                subject="Re: Broken screen",
                message_id="<screen-2@customer.example>",
                body="Any news?",
                headers={
                    "In-Reply-To": "<screen-1@customer.example>",
                    "References": "<screen-1@customer.example>",
                },
            )
        )
        self.fetch()
        self.assertFalse(self.tickets("Re: Broken screen"))
        self.assertIn("<screen-2@customer.example>", ticket.message_ids.mapped("message_id"))
        self.assertEqual(self.logs(message_id="<screen-2@customer.example>").res_id, ticket.id)

    def test_same_message_in_two_folders_and_two_mailboxes(self):
        raw = make_email(subject="Twice", message_id="<twice@customer.example>")
        self.server.converter_folder_ids.unlink()
        self.server.converter_folder_ids = [
            fields.Command.create({"path": "INBOX"}),
            fields.Command.create({"path": "Other"}),
        ]
        self.append(raw)
        self.append(raw, folder="Other")
        other = self.make_server(user="sales")
        self.dovecot.append("sales", raw)
        self.fetch()
        self.fetch(other)
        self.assertEqual(len(self.tickets("Twice")), 1)
        logs = self.env["mail.converter.log"].search(
            [("message_id", "=", "<twice@customer.example>")]
        )
        self.assertEqual(sorted(logs.mapped("state")), ["done", "duplicate", "duplicate"])
        dup = logs.filtered(lambda log: log.server_id == other)
        self.assertEqual(dup.state, "duplicate")
        self.assertIn("support", dup.reason)
        # Fetching again logs nothing new.
        self.fetch()
        self.fetch(other)
        self.assertEqual(
            len(
                self.env["mail.converter.log"].search(
                    [("message_id", "=", "<twice@customer.example>")]
                )
            ),
            3,
        )

    def test_missing_message_id_deduplicated_by_hash(self):
        raw = make_email(subject="No id", message_id=None)
        self.append(raw)
        self.append(raw)
        self.fetch()
        self.assertEqual(len(self.tickets("No id")), 1)
        logs = self.logs()
        self.assertEqual(sorted(logs.mapped("state")), ["done", "duplicate"])
        self.assertTrue(logs[0].message_key.startswith("sha256:"))

    def test_uidvalidity_reset(self):
        self.server.converter_folder_ids.path = "Box"
        self.append(
            make_email(subject="Before reset", message_id="<reset-1@customer.example>"),
            folder="Box",
        )
        self.fetch()
        folder = self.server.converter_folder_ids
        old_validity = folder.uidvalidity
        # A folder deleted and recreated gets a new UIDVALIDITY and numbers messages from 1 again.
        self.dovecot.delete_folder("support", "Box")
        self.append(
            make_email(subject="Before reset", message_id="<reset-1@customer.example>"),
            folder="Box",
        )
        self.append(
            make_email(subject="After reset", message_id="<reset-2@customer.example>"), folder="Box"
        )
        new_validity = self.dovecot.uidvalidity("support", "Box")
        self.assertNotEqual(old_validity, new_validity)
        self.fetch()
        self.assertEqual(len(self.tickets("Before reset")), 1)
        self.assertEqual(len(self.tickets("After reset")), 1)
        self.assertEqual(folder.uidvalidity, new_validity)
        self.assertEqual(folder.last_uid, 2)
        # The first email's log follows its copy; no duplicate row for a renumbering.
        self.assertRecordValues(
            self.logs().sorted("id"),
            [
                {
                    "message_id": "<reset-1@customer.example>",
                    "state": "done",
                    "uid": 1,
                    "uidvalidity": new_validity,
                },
                {
                    "message_id": "<reset-2@customer.example>",
                    "state": "done",
                    "uid": 2,
                    "uidvalidity": new_validity,
                },
            ],
        )

    def test_failure_stays_unread_and_is_retried(self):
        self.server.converter_folder_ids.after_action = "seen"
        bad = self.append(make_email(subject="Explodes", message_id="<boom@customer.example>"))
        good = self.append(make_email(subject="Fine", message_id="<fine@customer.example>"))
        original = type(self.env["mail.converter"])._convert

        def convert(model, raw, summary, source, origin, log, **kwargs):
            if summary.subject == "Explodes":
                model.env["helpdesk.ticket"].create({"name": "half-done", "description": "x"})
                raise RuntimeError("database on fire")
            return original(model, raw, summary, source, origin, log, **kwargs)

        with patch.object(type(self.env["mail.converter"]), "_convert", convert):
            self.fetch()
        # The good one is converted and read; the bad one rolled back, logged, left unread.
        self.assertEqual(len(self.tickets("Fine")), 1)
        self.assertFalse(
            self.tickets("half-done"), "the failed email's own work must be rolled back"
        )
        flags = self.dovecot.messages("support")
        self.assertIn("\\Seen", flags[good])
        self.assertNotIn("\\Seen", flags[bad])
        log = self.logs(message_id="<boom@customer.example>")
        self.assertRecordValues(log, [{"state": "failed", "attempts": 1}])
        self.assertIn("database on fire", log.error)
        self.assertTrue(log.raw_attachment_id, "the original is kept so nothing is lost")
        self.assertEqual(self.server.converter_failed_count, 1)
        # Once the cause is gone the next run converts it and only then marks it read.
        self.fetch()
        self.assertEqual(len(self.tickets("Explodes")), 1)
        self.assertRecordValues(log, [{"state": "done", "attempts": 2, "error": False}])
        self.assertIn("\\Seen", self.dovecot.messages("support")[bad])

    def test_retry_limit_then_manual_retry(self):
        self.server.max_attempts = 2
        self.append(make_email(subject="Always fails", message_id="<always@customer.example>"))
        with patch.object(
            type(self.env["mail.converter"]), "_convert", side_effect=ValueError("nope")
        ):
            for _i in range(4):
                self.fetch()
        log = self.logs()
        self.assertRecordValues(log, [{"state": "failed", "attempts": 2}])
        with self.enter_registry_test_mode():
            log.action_retry()
        self.assertEqual(log.state, "done")
        self.assertEqual(len(self.tickets("Always fails")), 1)

    def test_after_actions_on_server(self):
        folders = {"Keep": "keep", "Seen": "seen", "Move": "move", "Delete": "delete"}
        self.server.converter_folder_ids.unlink()
        self.dovecot.create_folder("support", "Done")
        uids = {}
        for path, action in folders.items():
            self.server.converter_folder_ids = [
                fields.Command.create(
                    {
                        "path": path,
                        "after_action": action,
                        "move_to_path": "Done" if action == "move" else False,
                    }
                )
            ]
            uids[path] = self.append(make_email(subject=f"After {action}"), folder=path)
        self.fetch()
        for action in folders.values():
            self.assertEqual(len(self.tickets(f"After {action}")), 1, action)
        self.assertNotIn("\\Seen", self.dovecot.messages("support", "Keep")[uids["Keep"]])
        self.assertIn("\\Seen", self.dovecot.messages("support", "Seen")[uids["Seen"]])
        self.assertEqual(self.dovecot.messages("support", "Move"), {})
        self.assertEqual(len(self.dovecot.messages("support", "Done")), 1)
        self.assertEqual(self.dovecot.messages("support", "Delete"), {})
        self.assertFalse(self.logs(action_pending=True))

    def test_unread_only_mode(self):
        self.server.converter_folder_ids.fetch_mode = "unread"
        self.append(make_email(subject="Already read"), flags="(\\Seen)")
        self.append(make_email(subject="Unread one"))
        self.fetch()
        self.assertFalse(self.tickets("Already read"))
        self.assertEqual(len(self.tickets("Unread one")), 1)

    def test_connection_error_shown_on_mailbox(self):
        broken = self.make_server(password="wrong")
        self.append(make_email(subject="Still fetched"))
        exception = self.fetch(broken | self.server)
        self.assertTrue(exception)
        self.assertTrue(broken.error_date)
        self.assertIn("LOGIN", broken.error_message)
        # The next mailbox was still processed.
        self.assertEqual(len(self.tickets("Still fetched")), 1)
        self.assertFalse(self.server.error_message)

    def test_check_interval_honoured_by_cron(self):
        self.server.write({"check_interval": 60, "date": fields.Datetime.now()})
        self.append(make_email(subject="Not yet"))
        self.fetch(cron=True)
        self.assertFalse(self.tickets("Not yet"))
        self.fetch()  # 'Fetch now' ignores the interval
        self.assertEqual(len(self.tickets("Not yet")), 1)

    def test_scheduler_time_budget_respected(self):
        self.server.batch_size = 2
        for i in range(5):
            self.append(make_email(subject=f"Budget {i}"))
        # A budget already spent: one batch is converted, the rest waits for the next run.
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            server = self.server.with_env(self.server.env(cr=cr)).with_context(
                cron_end_time=time.monotonic()
            )
            server._converter_fetch()
        self.env.invalidate_all()
        self.assertEqual(len(self.logs()), 2)
        self.fetch()
        self.assertEqual(len(self.logs()), 5)
        self.assertEqual(len(self.env["helpdesk.ticket"].search([("name", "like", "Budget %")])), 5)

    def test_outbound_own_mail_not_converted_again(self):
        ticket = self.env["helpdesk.ticket"].create({"name": "Sent from Odoo", "description": "x"})
        message = ticket.message_post(body="Our answer", message_type="comment")
        self.server.converter_folder_ids = [
            fields.Command.create({"path": "Sent", "direction": "outbound"})
        ]
        self.append(
            make_email(
                subject="Our answer",
                message_id=message.message_id,
                email_from="support@company.example",
                to="alice@customer.example",
            ),
            folder="Sent",
        )
        self.fetch()
        log = self.logs()
        self.assertRecordValues(log, [{"state": "discarded", "direction": "outbound"}])
        self.assertIn("Already in Odoo", log.reason)
        self.assertFalse(self.tickets("Our answer"))

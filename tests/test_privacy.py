"""Private email (C5): who sees it, enforced by the ORM for every path a user has.

Each test is an attack by a peer: an internal user who may read the ticket but
is neither the author of the private email nor the ticket's assignee.
"""

from odoo.addons.mail.tools.discuss import Store
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import MailConverterCase, make_email

STAFF_GROUPS = (
    "base.group_user,helpdesk_mgmt.group_helpdesk_user,sales_team.group_sale_salesman_all_leads"
)
SECRET_PDF = ("payslip.pdf", b"%PDF-1.4 secret salary figures", "application/pdf")


def staff(env, login, extra_groups=""):
    return new_test_user(
        env,
        login,
        groups=STAFF_GROUPS + extra_groups,
        email=f"{login}@company.example",
        name=login.replace("_", " ").title(),
        notification_type="email",
    )


@tagged("post_install", "-at_install", "mail_converter")
class TestPrivacy(MailConverterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        cls.assignee = staff(cls.env, "priv_assignee")
        cls.peer = staff(cls.env, "priv_peer")
        cls.writer = staff(cls.env, "priv_writer")
        cls.admin = staff(cls.env, "priv_admin", ",base.group_system")
        cls.server.default_user_id = cls.assignee
        Partner = cls.env["res.partner"]
        cls.acme = Partner.create(
            {"name": "Acme", "is_company": True, "email": "office@acme.example"}
        )
        cls.alice = Partner.create(
            {"name": "Alice Customer", "email": "alice@acme.example", "parent_id": cls.acme.id}
        )
        cls.bob = Partner.create({"name": "Bob Buyer", "email": "bob@buyer.example"})

    # -- helpers -------------------------------------------------------------
    def _import(self, **kwargs):
        """Fetch one email through the pipeline; return its log row."""
        self.append(make_email(**kwargs))
        self.fetch()
        log = self.logs(subject=kwargs["subject"])
        self.assertEqual(log.state, "done", log.reason or log.error)
        return log

    def _private_ticket(self, **kwargs):
        """A private email (Sensitivity header) that opens a ticket, with a public
        comment and attachment beside it on the same ticket."""
        values = {
            "subject": "Salary question",
            "body": "My salary is 4242 a month.",
            "email_from": "Alice Customer <alice@acme.example>",
            "headers": {"Sensitivity": "Private"},
            "attachments": [SECRET_PDF],
        }
        values.update(kwargs)
        log = self._import(**values)
        ticket = self.env["helpdesk.ticket"].browse(log.res_id)
        public = ticket.message_post(
            body="Public answer",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            attachments=[("public.txt", b"nothing secret")],
        )
        return log.mail_message_id, ticket, public

    def _sees(self, user, message):
        """Whether ``user`` finds ``message`` by search and can read it."""
        found = self.env["mail.message"].with_user(user).search([("id", "=", message.id)])
        if not found:
            return False
        found.read(["body"])
        return True

    def _settings(self, admins_see_private):
        self.env["res.config.settings"].create(
            {"group_mail_converter_private_admin": admins_see_private}
        ).execute()

    # -- the attack: a peer user ---------------------------------------------
    def test_peer_cannot_search_read_or_export_a_private_email(self):
        message, ticket, public = self._private_ticket()
        self.assertTrue(message.mail_converter_private)
        self.assertEqual(ticket.user_id, self.assignee)
        Message = self.env["mail.message"].with_user(self.peer)
        on_ticket = [("model", "=", "helpdesk.ticket"), ("res_id", "=", ticket.id)]

        # search, count, grouped counts
        self.assertIn(public, Message.search(on_ticket))
        self.assertNotIn(message, Message.search(on_ticket))
        self.assertFalse(Message.search([("body", "ilike", "4242")]))
        self.assertEqual(Message.search_count([("subject", "=", "Salary question")]), 0)
        self.assertEqual(
            Message._read_group([("subject", "=", "Salary question")], [], ["__count"]), [(0,)]
        )
        # read, whichever way a client asks
        with self.assertRaises(AccessError):
            message.with_user(self.peer).read(["body"])
        with self.assertRaises(AccessError):
            message.with_user(self.peer).web_read({"body": {}})
        self.assertEqual(Message.search_read([("id", "=", message.id)], ["body"]), [])
        listed = [r["id"] for r in Message.web_search_read(on_ticket, {"body": {}})["records"]]
        self.assertIn(public.id, listed)
        self.assertNotIn(message.id, listed)
        # export
        with self.assertRaises(AccessError):
            message.with_user(self.peer).export_data(["body"])
        # the record's own message list
        self.assertIn(public, ticket.with_user(self.peer).message_ids)
        self.assertNotIn(message, ticket.with_user(self.peer).message_ids)

    def test_log_reader_does_not_see_its_log_row_nor_its_original(self):
        self.server.original = True
        message, _ticket, _public = self._private_ticket()
        log = self.logs(subject="Salary question")
        self.assertTrue(log.raw_attachment_id, "the original is kept on the log row")
        readers = self.env.ref("mail_converter.group_mail_converter_user")
        readers.user_ids = [(4, self.peer.id), (4, self.assignee.id)]
        Log = self.env["mail.converter.log"]
        self.assertFalse(Log.with_user(self.peer).search([("subject", "=", "Salary question")]))
        with self.assertRaises(AccessError):
            log.with_user(self.peer).read(["subject", "email_from"])
        with self.assertRaises(AccessError):
            log.raw_attachment_id.with_user(self.peer).read(["raw"])
        self.assertTrue(self._import(subject="Public question").with_user(self.peer).subject)
        # The assignee, who may read the email, sees its row.
        self.assertEqual(
            Log.with_user(self.assignee).search([("subject", "=", "Salary question")]), log
        )
        self.assertTrue(self._sees(self.assignee, message))

    def test_log_reader_sees_no_link_duplicate_or_bounce_row_of_a_private_email(self):
        raw = make_email(
            subject="Salary question",
            body="My salary is 4242 a month.",
            email_from="Alice Customer <alice@acme.example>",
            headers={"Sensitivity": "Private"},
        )
        self.append(raw)
        self.fetch()
        log = self.logs(subject="Salary question")
        self.assertEqual(log.state, "done")
        self.assertTrue(log.private)
        # The same email again (a copy), and a delivery report marked private.
        self.append(raw)
        self.append(
            b"From: MAILER-DAEMON@mx.acme.example\r\nTo: support@company.example\r\n"
            b"Subject: Undelivered: Salary question\r\nSensitivity: Private\r\n"
            b"Message-ID: <private-bounce@mx.acme.example>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.acme.example\r\n\r\n"
            b"Final-Recipient: rfc822; alice@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            b"--B--\r\n"
        )
        self.fetch()
        rows = self.env["mail.converter.log"].search([("subject", "ilike", "Salary question")])
        self.assertEqual(sorted(rows.mapped("state")), ["bounce", "done", "duplicate"])
        self.assertEqual(set(rows.mapped("private")), {True})
        readers = self.env.ref("mail_converter.group_mail_converter_user")
        readers.user_ids = [(4, self.peer.id), (4, self.assignee.id)]
        Log = self.env["mail.converter.log"].with_user(self.peer)
        Link = self.env["mail.converter.link"].with_user(self.peer)
        self.assertFalse(Log.search([("subject", "ilike", "Salary")]))
        self.assertFalse(Log.search([("id", "in", rows.ids)]))
        self.assertTrue(log.link_ids)
        self.assertFalse(Link.search([("log_id", "in", rows.ids)]))
        with self.assertRaises(AccessError):
            log.link_ids.with_user(self.peer).read(["log_id"])
        # Odoo names a many2one as sudo: the name still depends on who asks.
        self.assertEqual(log.with_user(self.peer).sudo().display_name, "Private email")
        self.assertEqual(log.with_user(self.assignee).sudo().display_name, "Salary question")
        # The assignee, who may read the email, sees its row and where it was filed.
        self.assertEqual(
            self.env["mail.converter.link"]
            .with_user(self.assignee)
            .search([("log_id", "=", log.id)]),
            log.link_ids,
        )
        # The record it opened does not carry its subject as a name.
        ticket = self.env["helpdesk.ticket"].browse(log.res_id)
        self.assertEqual(ticket.name, "Private email from Alice Customer")

    def test_simulator_reads_no_logged_original_its_user_may_not_read(self):
        raw = make_email(
            subject="Medical leave",
            email_from="Alice Customer <alice@acme.example>",
            headers={"Sensitivity": "Private"},
        )
        self.append(raw)
        self.fetch()
        log = self.logs(subject="Medical leave")
        self.assertTrue(log.private)
        if not log.raw_attachment_id:
            log.raw_attachment_id = self.env["mail.converter"]._store_original(log, raw)
        manager = staff(
            self.env, "converter_manager", ",mail_converter.group_mail_converter_manager"
        )
        wizard = (
            self.env["mail.converter.simulator"]
            .with_user(manager)
            .create({"server_id": self.server.id, "log_id": log.id})
        )
        with self.assertRaises(AccessError):
            wizard.action_simulate()
        self.assertFalse(wizard.sudo().simulated)

    def test_importing_context_key_from_a_caller_does_not_skip_all_emails_private(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Secret merger",
                "partner_id": self.bob.id,
                "user_id": self.assignee.id,
                "mail_converter_all_private": True,
            }
        )
        # What a JSON-RPC caller can put in its context: a plain true value.
        for value in (True, 1, "1"):
            sent = (
                lead.with_user(self.writer)
                .with_context(mail_converter_importing=value)
                .message_post(
                    body="Our offer: 1 million",
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                    partner_ids=self.bob.ids,
                )
            )
            self.assertTrue(sent.mail_converter_private, value)
            self.assertFalse(self._sees(self.peer, sent))

    def test_peer_does_not_see_it_in_the_chatter_nor_the_emails_button(self):
        message, ticket, public = self._private_ticket()
        # The chatter: what /mail/thread/messages returns.
        fetched = (
            self.env["mail.message"]
            .with_user(self.peer)
            ._message_fetch(domain=None, thread=ticket.with_user(self.peer))["messages"]
        )
        self.assertIn(public, fetched)
        self.assertNotIn(message, fetched)
        self.assertNotIn("4242", str(Store().add(fetched).get_result()))
        # ... and the chatter search box
        searched = (
            self.env["mail.message"]
            .with_user(self.peer)
            ._message_fetch(domain=None, thread=ticket.with_user(self.peer), search_term="4242")
        )
        self.assertEqual(searched["count"], 0)
        # The "Emails" button of the contact and of her company.
        for partner in (self.alice, self.acme):
            as_peer = partner.with_user(self.peer)
            action = as_peer.action_mail_converter_emails()
            self.assertFalse(self.env["mail.message"].with_user(self.peer).search(action["domain"]))
            self.assertEqual(as_peer.mail_converter_email_count, 0, partner.name)
            as_assignee = partner.with_user(self.assignee)
            self.assertEqual(as_assignee.mail_converter_email_count, 1, partner.name)
            self.assertEqual(
                self.env["mail.message"]
                .with_user(self.assignee)
                .search(as_assignee.action_mail_converter_emails()["domain"]),
                message,
            )

    def test_peer_cannot_find_read_or_download_its_attachment(self):
        message, ticket, public = self._private_ticket()
        secret = message.attachment_ids
        self.assertEqual(secret.name, "payslip.pdf")
        # Stored on the ticket, tied to its message.
        self.assertEqual((secret.res_model, secret.res_id), ("helpdesk.ticket", ticket.id))
        Attachment = self.env["ir.attachment"].with_user(self.peer)
        on_ticket = [("res_model", "=", "helpdesk.ticket"), ("res_id", "=", ticket.id)]
        self.assertIn(public.attachment_ids, Attachment.search(on_ticket))
        self.assertNotIn(secret, Attachment.search(on_ticket))
        self.assertFalse(Attachment.search([("id", "=", secret.id)]))
        self.assertFalse(Attachment.search([("name", "=", "payslip.pdf")]))
        self.assertFalse(Attachment.search_read([("id", "in", secret.ids)], ["datas"]))
        with self.assertRaises(AccessError):
            secret.with_user(self.peer).read(["datas"])
        # /web/content/<id>: the download route
        with self.assertRaises(AccessError):
            self.env["ir.binary"].with_user(self.peer)._find_record(res_id=secret.id)
        # the chatter's attachment box and counter
        as_peer = ticket.with_user(self.peer)
        self.assertEqual(as_peer._get_mail_thread_data_attachments(), public.attachment_ids)
        self.assertEqual(as_peer.message_attachment_count, 1)
        with self.assertRaises(AccessError):
            secret.with_user(self.peer).unlink()

    # -- who may see it ------------------------------------------------------
    def test_assignee_and_author_see_it(self):
        message, ticket, _public = self._private_ticket(
            email_from="Priv Writer <priv_writer@company.example>"
        )
        self.assertEqual(message.author_id, self.writer.partner_id)
        for user in (self.assignee, self.writer):
            self.assertTrue(self._sees(user, message), user.login)
            self.assertEqual(
                message.attachment_ids.with_user(user).read(["name"])[0]["name"], "payslip.pdf"
            )
            self.env["ir.binary"].with_user(user)._find_record(res_id=message.attachment_ids.id)
            self.assertIn(
                message,
                self.env["mail.message"]
                .with_user(user)
                ._message_fetch(domain=None, thread=ticket.with_user(user))["messages"],
            )
        self.assertFalse(self._sees(self.peer, message))

    def test_reassigning_the_ticket_moves_access(self):
        message, ticket, _public = self._private_ticket()
        ticket.user_id = self.peer
        self.assertTrue(self._sees(self.peer, message))
        self.assertFalse(self._sees(self.assignee, message))
        self.assertEqual(message.mail_converter_private_user_ids, self.peer)

    def test_admins_see_private_mail_only_when_the_setting_allows_it(self):
        message, _ticket, _public = self._private_ticket()
        self.assertFalse(self._sees(self.admin, message))
        # Settings admins may export messages: not this one.
        with self.assertRaises(AccessError):
            message.with_user(self.admin).export_data(["body"])
        with self.assertRaises(AccessError):
            message.attachment_ids.with_user(self.admin).read(["datas"])

        self._settings(True)
        self.assertTrue(self._sees(self.admin, message))
        self.assertIn("4242", message.with_user(self.admin).export_data(["body"])["datas"][0][0])
        message.attachment_ids.with_user(self.admin).read(["datas"])
        # The setting is for Settings administrators, not for every user.
        self.assertFalse(self._sees(self.peer, message))

        self._settings(False)
        self.assertFalse(self._sees(self.admin, message))

    # -- what makes an email private -----------------------------------------
    def test_sensitivity_header(self):
        for value, private in (
            ("Private", True),
            ("personal", True),
            ("Company-Confidential", True),
            ("Normal", False),
        ):
            subject = f"Sensitivity {value}"
            log = self._import(
                subject=subject, email_from="bob@buyer.example", headers={"Sensitivity": value}
            )
            self.assertEqual(log.mail_message_id.mail_converter_private, private, value)
            if private:
                self.assertIn("Sensitivity", log.mail_message_id.mail_converter_private_reason)

    def test_simulator_says_marked_private_and_why(self):
        wizard = self.env["mail.converter.simulator"].create(
            {
                "server_id": self.server.id,
                "eml_text": make_email(
                    subject="Simulated", headers={"Sensitivity": "Company-Confidential"}
                ).decode(),
            }
        )
        wizard.action_simulate()
        self.assertIn("marked private", wizard.outcome)
        self.assertIn("Sensitivity: Company-Confidential", wizard.outcome)
        self.assertFalse(self.tickets("Simulated"), "the simulator writes nothing")

    def test_partner_company_and_lead_flags(self):
        lead = self.env["crm.lead"].create(
            {"name": "Fleet deal", "email_from": "fleet@lead.example", "user_id": self.peer.id}
        )
        self.bob.mail_converter_import_private = True
        log = self._import(subject="From Bob", email_from="bob@buyer.example")
        self.assertTrue(log.mail_message_id.mail_converter_private)
        self.assertIn("Bob Buyer", log.mail_message_id.mail_converter_private_reason)
        self.assertFalse(self._sees(self.peer, log.mail_message_id))

        # A company's flag covers its contacts.
        self.acme.mail_converter_all_private = True
        log = self._import(subject="From Alice", email_from="alice@acme.example")
        self.assertTrue(log.mail_message_id.mail_converter_private)
        self.assertIn("Acme", log.mail_message_id.mail_converter_private_reason)

        lead.mail_converter_import_private = True
        log = self._import(subject="About the fleet", email_from="fleet@lead.example")
        self.assertTrue(log.mail_message_id.mail_converter_private)
        self.assertIn("Fleet deal", log.mail_message_id.mail_converter_private_reason)

        # Flags on someone else change nothing.
        self.bob.mail_converter_import_private = False
        log = self._import(subject="Bob again", email_from="bob@buyer.example")
        self.assertFalse(log.mail_message_id.mail_converter_private)
        self.assertTrue(self._sees(self.peer, log.mail_message_id))

    def test_private_ticket_keeps_the_text_out_of_its_description(self):
        message, ticket, _public = self._private_ticket()
        self.assertNotIn("4242", ticket.with_user(self.peer).description or "")
        self.assertIn("4242", message.body)

    # -- mail staff send from Odoo -------------------------------------------
    def test_staff_mail_on_an_all_private_record_is_private(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Secret merger",
                "partner_id": self.bob.id,
                "user_id": self.assignee.id,
                "mail_converter_all_private": True,
            }
        )
        lead.message_subscribe(partner_ids=self.peer.partner_id.ids)
        sent = lead.with_user(self.writer).message_post(
            body="Our offer: 1 million",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=self.bob.ids,
        )
        self.assertTrue(sent.mail_converter_private)
        self.assertIn("Secret merger", sent.mail_converter_private_reason)
        for user, sees in ((self.writer, True), (self.assignee, True), (self.peer, False)):
            self.assertEqual(self._sees(user, sent), sees, user.login)
        notified = sent.notification_ids.res_partner_id
        self.assertIn(self.bob, notified, "the customer it was written to gets it")
        self.assertNotIn(self.peer.partner_id, notified, "a follower who may not see it does not")
        # Internal notes stay notes: visible to colleagues.
        note = lead.with_user(self.writer).message_post(
            body="Call them Monday", subtype_xmlid="mail.mt_note"
        )
        self.assertFalse(note.mail_converter_private)

        # Records whose customer has the flag: a ticket of Acme's contact.
        self.acme.mail_converter_all_private = True
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Acme ticket", "description": "x", "partner_id": self.alice.id}
        )
        reply = ticket.with_user(self.writer).message_post(
            body="Here you go", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.assertTrue(reply.mail_converter_private)
        # Imported emails private only: staff mail is not private.
        self.acme.write(
            {"mail_converter_all_private": False, "mail_converter_import_private": True}
        )
        reply = ticket.with_user(self.writer).message_post(
            body="Another one", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.assertFalse(reply.mail_converter_private)

    def test_followers_who_may_not_see_it_are_not_notified(self):
        ticket = self.env["helpdesk.ticket"].create(
            {
                "name": "Payroll issue",
                "description": "x",
                "partner_id": self.bob.id,
                "user_id": self.assignee.id,
            }
        )
        ticket.message_subscribe(
            partner_ids=(self.peer.partner_id | self.assignee.partner_id | self.bob).ids
        )
        sent = ticket.message_post(
            body="We are on it", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        log = self._import(
            subject="Re: Payroll issue",
            body="My account number is 0042.",
            email_from="Bob Buyer <bob@buyer.example>",
            headers={"Sensitivity": "Personal", "In-Reply-To": sent.message_id},
        )
        self.assertEqual((log.model, log.res_id), ("helpdesk.ticket", ticket.id))
        message = log.mail_message_id
        self.assertTrue(message.mail_converter_private)
        notified = message.notification_ids.res_partner_id
        self.assertIn(self.assignee.partner_id, notified)
        self.assertNotIn(self.peer.partner_id, notified)
        # A public follow-up still reaches every follower.
        log = self._import(
            subject="Re: Payroll issue (public)",
            email_from="Bob Buyer <bob@buyer.example>",
            headers={"In-Reply-To": sent.message_id},
        )
        self.assertIn(self.peer.partner_id, log.mail_message_id.notification_ids.res_partner_id)


@tagged("post_install", "-at_install", "mail_converter")
class TestPrivacyHttp(HttpCase):
    """The routes a browser uses: the chatter, RPC, downloads; and the lock icon."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.assignee = staff(cls.env, "privh_assignee")
        cls.peer = staff(cls.env, "privh_peer")
        customer = cls.env["res.partner"].create({"name": "Carla", "email": "carla@c.example"})
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {
                "name": "Private matter",
                "description": "x",
                "partner_id": customer.id,
                "user_id": cls.assignee.id,
            }
        )
        cls.message = cls.ticket.message_post(
            body="Secret text 31337",
            author_id=customer.id,
            message_type="email",
            subtype_xmlid="mail.mt_comment",
            attachments=[SECRET_PDF[:2]],
        )
        cls.message.mail_converter_private = True
        cls.public = cls.ticket.message_post(body="Public text", subtype_xmlid="mail.mt_note")

    def _thread_messages(self, login):
        self.authenticate(login, login)
        return self.make_jsonrpc_request(
            "/mail/thread/messages",
            {"thread_model": "helpdesk.ticket", "thread_id": self.ticket.id},
        )

    def test_chatter_route(self):
        result = self._thread_messages("privh_peer")
        self.assertIn(self.public.id, result["messages"])
        self.assertNotIn(self.message.id, result["messages"])
        self.assertNotIn("31337", str(result["data"]))

        result = self._thread_messages("privh_assignee")
        self.assertIn(self.message.id, result["messages"])
        data = next(m for m in result["data"]["mail.message"] if m["id"] == self.message.id)
        self.assertTrue(data["mail_converter_private"], "the chatter is told to show the lock")

    def test_rpc_and_download(self):
        attachment = self.message.attachment_ids
        self.authenticate("privh_peer", "privh_peer")
        found = self.make_jsonrpc_request(
            "/web/dataset/call_kw/mail.message/search_read",
            {
                "model": "mail.message",
                "method": "search_read",
                "args": [[("id", "in", [self.message.id, self.public.id])], ["body"]],
                "kwargs": {},
            },
        )
        self.assertEqual([m["id"] for m in found], [self.public.id])
        response = self.url_open(f"/web/content/{attachment.id}?download=true")
        self.assertIn(response.status_code, (403, 404))
        self.assertNotIn(b"salary", response.content)

        self.authenticate("privh_assignee", "privh_assignee")
        response = self.url_open(f"/web/content/{attachment.id}?download=true")
        self.assertEqual(response.status_code, 200)
        self.assertIn(b"salary", response.content)

    def test_lock_icon_in_chatter_and_lists(self):
        self.start_tour(
            f"/odoo/helpdesk.ticket/{self.ticket.id}",
            "mail_converter_private_lock",
            login="privh_assignee",
        )
        self.start_tour(
            "/odoo/action-mail.action_view_mail_message",
            "mail_converter_private_lock_list",
            login="privh_assignee",
        )

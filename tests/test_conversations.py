"""Conversations (C14) through a real Dovecot: winmail.dat, inline images, calendar invitations
and quoted history, as Outlook, Gmail, Google Calendar and Apple Mail send them.

The samples are built by ``tests/samples.py``, each after the client it names.
"""

import email
import unittest
from datetime import timedelta

import lxml.html

from odoo import fields
from odoo.modules.module import load_script
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from ..tools import calendar_invite, tnef
from . import samples
from .common import MailConverterDovecotCase, make_email


class ConversationCase(MailConverterDovecotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["mail.converter.rule"].search([]).action_archive()
        cls.env.company.partner_id.tz = "Europe/Brussels"

    def convert(self, raw, subject):
        """Deliver ``raw``, fetch, and return the ticket it made and its email in the chatter."""
        self.append(raw)
        self.fetch()
        ticket = self.tickets(subject)
        self.assertEqual(len(ticket), 1, self.logs().mapped("error"))
        return ticket, self.email_of(ticket)

    def email_of(self, record):
        message = record.message_ids.filtered(lambda m: m.message_type == "email")
        self.assertEqual(len(message), 1)
        return message

    def listed_attachments(self, message):
        """What the chatter lists under the message: its attachments not shown in its body
        (``extra_body_attachment_ids`` in mail's ``message_model.js``)."""
        root = lxml.html.fromstring(str(message.body))
        inline = {
            int(img.get("data-attachment-id")) for img in root.xpath("//img[@data-attachment-id]")
        }
        return message.attachment_ids.filtered(lambda a: a.id not in inline)


@tagged("post_install", "-at_install", "mail_converter")
class TestWinmail(ConversationCase):
    """winmail.dat becomes the files it holds; a broken one is kept as it came."""

    def test_outlook_winmail_is_unpacked(self):
        raw = samples.outlook_winmail(
            attachments=[("offer.pdf", samples.PDF), ("prices.csv", b"item;price\nrouter;49\n")]
        )
        ticket, message = self.convert(raw, "Signed offer")
        self.assertEqual(sorted(message.attachment_ids.mapped("name")), ["offer.pdf", "prices.csv"])
        pdf = message.attachment_ids.filtered(lambda a: a.name == "offer.pdf")
        self.assertEqual(pdf.raw, samples.PDF)
        self.assertIn("Please find the signed offer attached.", str(ticket.description))

    def test_body_only_in_winmail(self):
        # Exchange sometimes sends nothing but the TNEF part: its body is the message.
        raw = samples.outlook_winmail(body="Offer for 12 routers, see attachment.", text_part=False)
        ticket, message = self.convert(raw, "Signed offer")
        self.assertIn("Offer for 12 routers, see attachment.", str(message.body))
        self.assertIn("Offer for 12 routers, see attachment.", str(ticket.description))
        self.assertEqual(message.attachment_ids.mapped("name"), ["offer.pdf"])

    def test_unreadable_winmail_is_kept(self):
        blob = tnef.SIGNATURE + b"\x01\x00" + b"\xff" * 40
        _ticket, message = self.convert(samples.outlook_winmail(blob=blob), "Signed offer")
        self.assertEqual(message.attachment_ids.mapped("name"), ["winmail.dat"])
        self.assertEqual(message.attachment_ids.raw, blob)


@tagged("post_install", "-at_install", "mail_converter")
class TestInlineImages(ConversationCase):
    """An image the HTML shows by ``cid:`` shows inline, and is not listed again."""

    def assert_inline(self, ticket, message):
        image = message.attachment_ids
        self.assertEqual(len(image), 1)
        self.assertEqual(image.raw, samples.PNG)
        for html in (message.body, ticket.description):
            img = lxml.html.fromstring(str(html)).xpath("//img")[0]
            self.assertTrue(img.get("src").startswith(f"/web/image/{image.id}?access_token="))
            self.assertEqual(img.get("data-attachment-id"), str(image.id))
        self.assertFalse(self.listed_attachments(message))
        self.assertNotIn("cid:", str(ticket.description))

    def test_outlook_image_without_disposition(self):
        ticket, message = self.convert(samples.outlook_inline_image(), "Error on screen")
        self.assert_inline(ticket, message)
        self.assertEqual(message.attachment_ids.name, "image001.png")

    def test_image_without_any_name(self):
        # Some clients give the image part a Content-ID and nothing else: no name, no disposition.
        ticket, message = self.convert(samples.outlook_inline_image(named=False), "Error on screen")
        self.assert_inline(ticket, message)
        self.assertEqual(message.attachment_ids.name, "image001.png")

    def test_real_attachment_still_listed(self):
        ticket, message = self.convert(samples.outlook_winmail(), "Signed offer")
        self.assertEqual(self.listed_attachments(message).mapped("name"), ["offer.pdf"])


@tagged("post_install", "-at_install", "mail_converter")
class TestInvitations(ConversationCase):
    """A calendar part gets a readable summary; the .ics stays attached, once."""

    def test_google_calendar_invitation(self):
        ticket, message = self.convert(
            samples.google_invitation(),
            "Invitation: Quarterly review @ Tue 10 Dec 2024 2pm - 3pm (CET)",
        )
        text = lxml.html.fromstring(str(message.body)).text_content()
        for expected in (
            "Meeting invitation",
            "What: Quarterly review",
            # 13:00 UTC in the company's time zone
            "When: 2024-12-10 14:00 - 15:00 (Europe/Brussels)",
            "Where: Meeting room Ada, 2nd floor",
            "Organizer: Grace Google <grace@gmail.example>",
            "support@company.example (no answer yet)",
            "You have been invited to the following event.",
        ):
            self.assertIn(expected, text)
        self.assertEqual(message.attachment_ids.mapped("name"), ["invite.ics"])
        self.assertIn(b"BEGIN:VCALENDAR", message.attachment_ids.raw)
        self.assertIn("Quarterly review", str(ticket.description))

    def test_outlook_invitation_and_cancellation(self):
        _ticket, message = self.convert(
            samples.outlook_calendar("REQUEST", "Sync on the rollout"), "Sync on the rollout"
        )
        text = lxml.html.fromstring(str(message.body)).text_content()
        self.assertIn("Meeting invitation", text)
        # 10:00 in Outlook's "W. Europe Standard Time": the same in Brussels
        self.assertIn("When: 2024-12-11 10:00 - 11:00 (Europe/Brussels)", text)
        self.assertIn("Where: Microsoft Teams Meeting", text)
        self.assertEqual(message.attachment_ids.mapped("name"), ["invite.ics"])

        _ticket, message = self.convert(
            samples.outlook_calendar("CANCEL", "Canceled: Sync on the rollout"),
            "Canceled: Sync on the rollout",
        )
        self.assertIn("Meeting cancelled", str(message.body))


@tagged("post_install", "-at_install", "mail_converter")
class TestInvitationAnswers(ConversationCase):
    """An answer to an invitation we sent sets the answering attendee's status and is filed on
    the meeting; anything else changes no meeting."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "calendar.attendee" not in cls.env:
            raise unittest.SkipTest("calendar is not installed: answers are handled as any email")
        cls.organizer = new_test_user(
            cls.env, "mc_organizer", name="Olga Organizer", email="olga@company.example"
        )
        cls.bob = cls.env["res.partner"].create(
            {"name": "Bob Outlook", "email": "bob@contoso.example"}
        )
        cls.carol = cls.env["res.partner"].create(
            {"name": "Carol", "email": "carol@contoso.example"}
        )

    def invite(self, name, organizer=None):
        """A meeting next week with Bob and Carol: Odoo emails them its invitation (with an .ics)."""
        organizer = organizer or self.organizer
        start = fields.Datetime.now().replace(microsecond=0) + timedelta(days=7)
        event = self.env["calendar.event"].create(
            {
                "name": name,
                "user_id": organizer.id,
                "start": start,
                "stop": start + timedelta(hours=1),
                "partner_ids": [
                    fields.Command.set([organizer.partner_id.id, self.bob.id, self.carol.id])
                ],
            }
        )
        # the invitations are user notifications, not listed in the meeting's message_ids
        invitations = self.env["mail.message"].search(
            [("model", "=", "calendar.event"), ("res_id", "=", event.id)]
        )
        sent = invitations.attachment_ids.filtered(lambda a: a.mimetype == "text/calendar")
        self.assertTrue(sent, "Odoo sent no invitation")
        return event, calendar_invite.parse(sent[0].raw).uid

    def answer(
        self,
        subject,
        uid,
        partstat,
        attendee=("Bob Outlook", "bob@contoso.example"),
        sender="Bob Outlook <bob@contoso.example>",
    ):
        """Outlook's answer to the invitation ``uid``, delivered and fetched."""
        self.append(
            samples.outlook_calendar(
                "REPLY",
                subject,
                partstat=partstat,
                organizer=("Olga Organizer", "olga@company.example"),
                attendee=attendee,
                sender=sender,
                uid=uid,
            )
        )
        self.fetch()

    def state(self, event, partner):
        return event.attendee_ids.filtered(lambda a: a.partner_id == partner).state

    def test_accepted_answer_sets_the_attendee_and_is_filed_on_the_meeting(self):
        event, uid = self.invite("Sync on the rollout")
        self.answer("Accepted: Sync on the rollout", uid, "ACCEPTED")
        self.assertFalse(self.tickets("Accepted: Sync on the rollout"))
        self.assertEqual(self.state(event, self.bob), "accepted")
        self.assertEqual(self.state(event, self.carol), "needsAction")
        message = self.email_of(event)
        self.assertIn(
            "Answer to a meeting invitation: Bob Outlook &lt;bob@contoso.example&gt; accepted",
            str(message.body),
        )
        self.assertEqual(message.attachment_ids.mapped("name"), ["invite.ics"])
        self.assertIn(
            "bob@contoso.example answered the meeting invitation: accepted", self.logs().reason
        )

    def test_declined_then_tentative(self):
        event, uid = self.invite("Budget")
        self.answer("Declined: Budget", uid, "DECLINED")
        self.assertEqual(self.state(event, self.bob), "declined")
        self.answer("Tentative: Budget", uid, "TENTATIVE")
        self.assertEqual(self.state(event, self.bob), "tentative")
        self.assertEqual(len(event.message_ids.filtered(lambda m: m.message_type == "email")), 2)
        self.assertFalse(self.tickets("Declined: Budget") | self.tickets("Tentative: Budget"))

    def test_other_answers_change_no_meeting(self):
        event, uid = self.invite("Sync")
        cases = {
            # someone not invited answers for herself
            "Accepted: Sync (Mallory)": dict(
                attendee=("Mallory", "mallory@evil.example"),
                sender="Mallory <mallory@evil.example>",
            ),
            # a stranger sends an answer naming Bob
            "Accepted: Sync (forged)": dict(sender="Mallory <mallory@evil.example>"),
            # Bob answers an invitation we never sent
            "Accepted: Sync (other UID)": dict(uid=samples.OUTLOOK_UID),
        }
        for subject, values in cases.items():
            with self.subTest(subject):
                self.answer(subject, values.pop("uid", uid), "ACCEPTED", **values)
                self.assertEqual(len(self.tickets(subject)), 1)
                self.assertEqual(self.state(event, self.bob), "needsAction")
                self.assertFalse(event.message_ids.filtered(lambda m: m.message_type == "email"))

    def test_meeting_of_another_company_is_not_touched(self):
        other = self.env["res.company"].create({"name": "Other company"})
        bruno = new_test_user(
            self.env,
            "mc_bruno",
            email="bruno@other.example",
            company_id=other.id,
            company_ids=[fields.Command.set(other.ids)],
        )
        self.assertNotEqual(self.server.company_id, other)
        event, uid = self.invite("Other sync", organizer=bruno)
        self.answer("Accepted: Other sync", uid, "ACCEPTED")
        self.assertEqual(self.state(event, self.bob), "needsAction")
        self.assertFalse(event.message_ids.filtered(lambda m: m.message_type == "email"))
        self.assertEqual(len(self.tickets("Accepted: Other sync")), 1)


@tagged("post_install", "-at_install", "mail_converter")
class TestQuotedHistory(ConversationCase):
    """Quoted history is marked for the chatter's "•••" toggle; the full text stays."""

    NEW_TEXT = {
        "gmail_reply": "It works again, thank you!",
        "outlook_reply": "Still broken after the restart.",
        "apple_reply": "Sounds good, see you then.",
    }

    INTRO = {"gmail_reply": "wrote:", "outlook_reply": "Sent:", "apple_reply": "wrote:"}

    def test_replies_of_gmail_outlook_apple_mail(self):
        for build in (samples.gmail_reply, samples.outlook_reply, samples.apple_reply):
            for html in (True, False):
                with self.subTest(client=build.__name__, html=html):
                    raw = build(html)
                    subject = email.message_from_bytes(raw)["Subject"]
                    ticket, message = self.convert(raw, subject)
                    root = lxml.html.fromstring(str(message.body))
                    quoted = root.xpath('//*[@data-o-mail-quote="1"]')
                    self.assertTrue(quoted)
                    quoted_text = "".join(el.text_content() for el in quoted)
                    self.assertIn(samples.QUOTED, quoted_text)
                    for el in quoted:
                        if el.getparent() is not None:
                            el.getparent().remove(el)
                    shown = root.text_content()
                    self.assertIn(self.NEW_TEXT[build.__name__], shown)
                    self.assertNotIn(samples.QUOTED, shown)
                    # the line introducing the quote is folded with it
                    self.assertNotIn(self.INTRO[build.__name__], shown)
                    # nothing deleted: the whole conversation is in the message and the ticket
                    self.assertIn(samples.QUOTED, str(message.body))
                    self.assertIn(samples.QUOTED, str(ticket.description))


@tagged("post_install", "-at_install", "mail_converter")
class TestConversationsUi(ConversationCase, HttpCase):
    """What a helpdesk user sees in the chatter."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        helper = new_test_user(
            cls.env,
            "mc_helper",
            name="Hana Helpdesk",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_user",
        )
        cls.env["helpdesk.ticket.team"].create(
            {"name": "Support team", "user_ids": [fields.Command.set(helper.ids)]}
        )
        # the mailbox's own address tells received mail (the customer's) from sent mail
        cls.server.converter_email = "support@company.example"

    def test_quote_folded_in_the_chatter(self):
        ticket, _message = self.convert(samples.outlook_reply(), "Re: Router (Outlook, HTML)")
        self.start_tour(
            f"/odoo/helpdesk.ticket/{ticket.id}", "mail_converter_quote_fold", login="admin"
        )

    def test_inline_image_not_listed_again(self):
        ticket, _message = self.convert(samples.outlook_inline_image(), "Error on screen")
        self.start_tour(
            f"/odoo/helpdesk.ticket/{ticket.id}", "mail_converter_inline_image", login="admin"
        )

    def closed_ticket(self, subject, message_id, days_ago):
        """A ticket converted from an email, closed ``days_ago`` days ago."""
        self.append(make_email(subject=subject, message_id=message_id))
        self.fetch()
        ticket = self.tickets(subject)
        ticket.stage_id = self.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
        # the closing date is the only thing a test cannot wait for
        ticket.closed_date = fields.Datetime.now() - timedelta(days=days_ago)
        self.env.flush_all()  # the fetch reads through its own cursor
        return ticket

    def reply(self, subject, message_id, text):
        """The customer's reply to the ticket's email, delivered and fetched."""
        self.append(
            make_email(
                subject=subject,
                body=text,
                html=f"<p>{text}</p>",
                headers={"In-Reply-To": message_id, "References": message_id},
            )
        )
        self.fetch()

    def test_reopened_ticket(self):
        ticket = self.closed_ticket("Router down", "<router@customer.example>", days_ago=3)
        self.reply("Re: Router down", "<router@customer.example>", "The light is still red.")
        self.assertFalse(ticket.stage_id.closed)
        self.start_tour(
            f"/odoo/helpdesk.ticket/{ticket.id}",
            "mail_converter_reopened_ticket",
            login="mc_helper",
        )

    def test_followup_ticket(self):
        old = self.closed_ticket("Printer jammed", "<jam@customer.example>", days_ago=30)
        self.reply("Re: Printer jammed", "<jam@customer.example>", "It is jammed again.")
        new = self.env["helpdesk.ticket"].browse(self.logs(subject="Re: Printer jammed").res_id)
        self.assertNotEqual(new, old)
        self.assertEqual(new.mail_converter_followup_of_id, old)
        self.start_tour(
            f"/odoo/helpdesk.ticket/{new.id}", "mail_converter_followup_ticket", login="mc_helper"
        )


@tagged("post_install", "-at_install", "mail_converter")
class TestAcknowledgementUpgrade(TransactionCase):
    """19.0.1.5.0's migration: a database upgraded from an older version gets the new
    acknowledgement text, unless the admin edited the template."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.migration = load_script(
            "mail_converter/migrations/19.0.1.5.0/post-migration.py", "mc_migration_19_0_1_5_0"
        )
        cls.template = cls.env.ref("mail_converter.mail_template_ticket_acknowledgement")

    def test_previous_shipped_text_is_replaced(self):
        # as the versions before 19.0.1.4.0 installed it
        self.template.body_html = self.migration.PREVIOUS_BODY
        self.assertNotIn("new request", str(self.template.body_html))
        self.assertEqual(self.migration.rewrite_acknowledgement(self.env), ["en_US"])
        self.template.invalidate_recordset()
        self.assertIn("so your message is a new request", str(self.template.body_html))
        self.assertIn("mail_converter_followup_of_id", str(self.template.body_html))
        # the same text as a fresh install
        self.assertEqual(
            self.migration.normalized(self.template.body_html),
            self.migration.normalized(self.migration.shipped_body()),
        )

    def test_edited_template_is_kept(self):
        edited = self.migration.PREVIOUS_BODY.replace(
            "This is an automatic acknowledgement.", "Our hours: 9:00-17:00."
        )
        self.template.body_html = edited
        before = str(self.template.body_html)
        self.assertEqual(self.migration.rewrite_acknowledgement(self.env), [])
        self.template.invalidate_recordset()
        self.assertEqual(str(self.template.body_html), before)

    def test_fresh_install_unchanged(self):
        before = str(self.template.body_html)
        self.assertIn("new request", before)
        self.assertEqual(self.migration.rewrite_acknowledgement(self.env), [])
        self.template.invalidate_recordset()
        self.assertEqual(str(self.template.body_html), before)

"""What an email shows once converted: winmail.dat unpacked, inline images, invitations, quotes.

Each step is a small hook applied to Odoo's parse of the email (``msg_dict`` of
``mail.thread.message_parse``: its ``body`` and ``attachments``) before anything
is planned or posted, so the simulator, the ticket description and the chatter
all see the same content. Override a hook to change one step, or
:meth:`_converter_content_hooks` to add or remove steps.
"""

import lxml.html
from markupsafe import Markup

from odoo import api, models
from odoo.tools.mail import append_content_to_html, html_sanitize, is_html_empty

from ..tools import calendar_invite, quoting, tnef

# Parts looked at for invitations and inline images: a hostile email may have thousands.
MAX_PARTS = 200


class MailConverterContent(models.AbstractModel):
    _name = "mail.converter.content"
    _description = "Mail converter: what a converted email shows"

    @api.model
    def _converter_content_hooks(self):
        """Names of the steps applied to each parsed email, in order; override to change them."""
        return [
            "_converter_unpack_tnef",
            "_converter_inline_images",
            "_converter_fold_quotes",
            "_converter_calendar_summary",
        ]

    @api.model
    def _converter_enrich(self, message, msg_dict, source):
        """Apply the content steps to ``msg_dict``, Odoo's parse of ``message``, in place."""
        for hook in self._converter_content_hooks():
            getattr(self, hook)(message, msg_dict, source)
        return msg_dict

    # -- winmail.dat -------------------------------------------------------------------------
    @api.model
    def _converter_unpack_tnef(self, message, msg_dict, source):
        """Replace each ``winmail.dat`` by the files it holds, and take its body when the email
        has none; a blob that cannot be read stays attached as it came."""
        Attachment = self.env["mail.thread"]._Attachment
        attachments = []
        for attachment in msg_dict.get("attachments") or []:
            unpacked = tnef.unpack(attachment[1]) if tnef.is_tnef(attachment[1]) else None
            if unpacked is None:
                attachments.append(attachment)
                continue
            attachments.extend(Attachment(name, data, {}) for name, data in unpacked.attachments)
            if is_html_empty(msg_dict.get("body")):
                msg_dict["body"] = self._converter_tnef_body(unpacked)
        msg_dict["attachments"] = attachments

    @api.model
    def _converter_tnef_body(self, unpacked):
        """The HTML body of an unpacked ``winmail.dat`` (its HTML, else its text)."""
        if unpacked.html.strip():
            return html_sanitize(unpacked.html, sanitize_tags=False, strip_classes=True)
        return append_content_to_html("", unpacked.body, preserve=True)

    # -- inline images -------------------------------------------------------------------------
    @api.model
    def _converter_inline_images(self, message, msg_dict, source):
        """Give back their Content-ID to images Odoo's parser listed without one (a part with
        a Content-ID but no file name), so that the body shows them where they belong."""
        attachments = msg_dict.get("attachments") or []
        body = str(msg_dict.get("body") or "")
        if not attachments or "cid:" not in body:
            return
        Attachment = self.env["mail.thread"]._Attachment
        for count, part in enumerate(message.walk()):
            if count > MAX_PARTS:
                break
            cid = (part.get("Content-ID") or "").strip().strip("<>")
            if not cid or part.get_content_maintype() != "image" or part.get_filename():
                continue
            if f"cid:{cid}" not in body:
                continue
            content = part.get_payload(decode=True)
            for index, attachment in enumerate(attachments):
                info = attachment[2] if len(attachment) > 2 else {}
                if not (info or {}).get("cid") and attachment[1] == content:
                    name = self._converter_inline_image_name(cid, part.get_content_subtype())
                    attachments[index] = Attachment(name, content, {**(info or {}), "cid": cid})
                    break
        msg_dict["attachments"] = attachments

    @api.model
    def _converter_inline_image_name(self, cid, subtype):
        """A file name for an image that came without one, from its Content-ID
        (``image001.png@01DB...`` gives ``image001.png``)."""
        local = cid.split("@", 1)[0][:64]
        name = "".join(c if c.isalnum() or c in ".-_" else "_" for c in local).strip("._")
        extension = "".join(c for c in subtype.lower() if c.isalnum())[:8] or "img"
        return name if "." in (name or "") else f"{name or 'image'}.{extension}"

    @api.model
    def _converter_inline_images_posted(self, body_before, body_after):
        """``(body, {cid: src})``: ``body_after`` (the posted body, whose ``cid:`` images now
        point to their attachment) with each such image naming its attachment
        (``data-attachment-id``), which is what makes the chatter list it only once."""
        if not body_before or "cid:" not in str(body_before) or not body_after:
            return body_after, {}
        before = lxml.html.fromstring(str(body_before)).iter("img")
        root = lxml.html.fromstring(str(body_after))
        sources = {}
        for old, new in zip(before, root.iter("img"), strict=False):
            src, new_src = old.get("src") or "", new.get("src") or ""
            if not src.startswith("cid:") or not new_src.startswith("/web/image/"):
                continue
            attachment_id = new_src.split("/web/image/", 1)[1].split("?", 1)[0]
            if attachment_id.isdigit():
                new.set("data-attachment-id", attachment_id)
                sources[src[4:]] = (new_src, attachment_id)
        if not sources:
            return body_after, {}
        return Markup(lxml.html.tostring(root, encoding="unicode")), sources

    @api.model
    def _converter_inline_record_images(self, record, sources):
        """Show the inline images in the record's own copy of the email (a ticket's or a
        lead's description), which still points to ``cid:`` addresses."""
        for name in record._mail_converter_body_fields():
            html = str(record[name] or "")
            if "cid:" not in html:
                continue
            root = lxml.html.fromstring(html)
            changed = False
            for img in root.iter("img"):
                src = img.get("src") or ""
                if src.startswith("cid:") and src[4:] in sources:
                    new_src, attachment_id = sources[src[4:]]
                    img.set("src", new_src)
                    img.set("data-attachment-id", attachment_id)
                    changed = True
            if changed:
                record[name] = Markup(lxml.html.tostring(root, encoding="unicode"))

    # -- quoted history ------------------------------------------------------------------------
    @api.model
    def _converter_fold_quotes(self, message, msg_dict, source):
        """Mark the quoted history for Odoo's "•••" toggle; the text itself stays."""
        body = msg_dict.get("body")
        if not body or is_html_empty(body):
            return
        folded = quoting.fold_quotes(str(body))
        if folded != str(body):
            msg_dict["body"] = Markup(folded)

    # -- calendar invitations --------------------------------------------------------------
    @api.model
    def _converter_invitation(self, message):
        """The :class:`tools.calendar_invite.Invitation` an email carries, or ``None``."""
        for count, part in enumerate(message.walk()):
            if count > MAX_PARTS:
                break
            if part.get_content_type() not in calendar_invite.CALENDAR_TYPES:
                continue
            invitation = calendar_invite.parse(part.get_payload(decode=True) or b"")
            if invitation:
                return invitation
        return None

    @api.model
    def _converter_calendar_summary(self, message, msg_dict, source):
        """Put a readable summary of a meeting invitation, answer or cancellation on top of the
        message; its ``.ics`` stays attached once, as ``invite.ics`` when it had no name."""
        invitation = self._converter_invitation(message)
        if invitation is None:
            return
        summary = self._converter_invitation_html(invitation, self._converter_timezone(source))
        body = msg_dict.get("body")
        msg_dict["body"] = summary if is_html_empty(body) else summary + Markup(body or "")
        self._converter_name_calendar_files(message, msg_dict)

    @api.model
    def _converter_name_calendar_files(self, message, msg_dict):
        """One attachment per calendar file: clients send the same invitation as an alternative
        part (no name) and as ``invite.ics``."""
        Attachment = self.env["mail.thread"]._Attachment
        seen, attachments = set(), []
        for attachment in msg_dict.get("attachments") or []:
            name, content = attachment[0], attachment[1]
            data = content.encode() if isinstance(content, str) else content
            if not isinstance(data, bytes) or b"BEGIN:VCALENDAR" not in data[:2048]:
                attachments.append(attachment)
                continue
            key = data.replace(b"\r\n", b"\n").strip()
            if key in seen:
                continue
            seen.add(key)
            if not name or name == "attachment":
                attachment = Attachment("invite.ics", content, *attachment[2:])
            attachments.append(attachment)
        msg_dict["attachments"] = attachments

    @api.model
    def _converter_timezone(self, source):
        """The time zone invitations are shown in: the mailbox company's, else the user's."""
        company = self.env["res.company"].browse(source.company_id) if source else None
        company = company or self.env.company
        return company.partner_id.tz or self.env.user.tz or "UTC"

    @api.model
    def _converter_invitation_title(self, invitation):
        """What the calendar part is: an invitation, an answer (and which) or a cancellation."""
        if invitation.method == "CANCEL" or invitation.cancelled:
            return self.env._("Meeting cancelled")
        if invitation.method == "REPLY":
            answers = {
                "ACCEPTED": self.env._("accepted"),
                "DECLINED": self.env._("declined"),
                "TENTATIVE": self.env._("tentatively accepted"),
                "DELEGATED": self.env._("delegated"),
            }
            person = calendar_invite.replier(invitation)
            answer = answers.get(person.status if person else "", self.env._("answered"))
            return self.env._(
                "Answer to a meeting invitation: %(who)s %(answer)s",
                who=person.label() if person else "",
                answer=answer,
            )
        if invitation.method == "REQUEST":
            return self.env._("Meeting invitation")
        return self.env._("Calendar event")

    @api.model
    def _converter_invitation_html(self, invitation, tz_name):
        """The summary block shown on top of the message."""
        statuses = {
            "ACCEPTED": self.env._("accepted"),
            "DECLINED": self.env._("declined"),
            "TENTATIVE": self.env._("tentative"),
            "NEEDS-ACTION": self.env._("no answer yet"),
        }
        attendees = [
            f"{person.label()} ({statuses[person.status]})"
            if person.status in statuses
            else person.label()
            for person in invitation.attendees
        ]
        rows = [
            (self.env._("What"), invitation.summary),
            (self.env._("When"), calendar_invite.format_when(invitation, tz_name)),
            (self.env._("Where"), invitation.location),
            (self.env._("Organizer"), invitation.organizer.label() if invitation.organizer else ""),
            (self.env._("Attendees"), ", ".join(attendees)),
        ]
        items = Markup("").join(
            Markup("<li><b>%s:</b> %s</li>") % (label, value) for label, value in rows if value
        )
        return Markup("<div><p><b>%s</b></p><ul>%s</ul></div>") % (
            self._converter_invitation_title(invitation),
            items,
        )

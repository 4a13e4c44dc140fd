"""Real-world conversation samples, built the way the named clients write them. No Odoo import.

Each builder notes the client it imitates and where its structure comes from.
Shared by the Dovecot tests (``tests/test_conversations.py``) and the unit tests.
"""

import base64
import struct
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

# A 1x1 transparent PNG (the smallest valid PNG file).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
DATE = format_datetime(datetime(2024, 12, 3, 9, 30, tzinfo=timezone.utc))


# -- TNEF (winmail.dat) --------------------------------------------------------------------
# Layout from Microsoft's [MS-OXTNEF] 2.1.3: a signature, a key, then attributes, each
# level (1 byte), id (4 bytes: type << 16 | name), length, data and a 16-bit checksum.
def _tnef_attribute(level, name, type_, data):
    checksum = sum(data) & 0xFFFF
    return (
        struct.pack("<BIi", level, (type_ << 16) | name, len(data))
        + data
        + struct.pack("<H", checksum)
    )


def tnef_blob(body, attachments):
    """A TNEF blob as Outlook writes it for a "Rich Text" message: version, OEM code page,
    message class, the plain body (``attBody``), then per attachment its rendering data,
    title and data (``attAttachRendData``, ``attAttachTitle``, ``attAttachData``)."""
    message, attachment = 1, 2
    blob = struct.pack("<IH", 0x223E9F78, 0x4E21)
    blob += _tnef_attribute(message, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    blob += _tnef_attribute(message, 0x9007, 0x0006, struct.pack("<II", 1252, 0))
    blob += _tnef_attribute(message, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")
    blob += _tnef_attribute(message, 0x800C, 0x0002, body.encode("cp1252"))
    for name, data in attachments:
        rendering = struct.pack("<HiHHI", 1, -1, 0, 0, 0)
        blob += _tnef_attribute(attachment, 0x9002, 0x0006, rendering)
        blob += _tnef_attribute(attachment, 0x8010, 0x0007, name.encode("cp1252") + b"\x00")
        blob += _tnef_attribute(attachment, 0x800F, 0x0006, data)
    return blob


def outlook_winmail(
    body="Please find the signed offer attached.", attachments=None, blob=None, text_part=True
):
    """Outlook (desktop, "Rich Text" format) to a non-Outlook recipient: a text/plain part and
    ``winmail.dat`` as ``application/ms-tnef`` holding the real attachments; without
    ``text_part``, the TNEF part alone, as some Exchange servers send it."""
    attachments = attachments if attachments is not None else [("offer.pdf", PDF)]
    msg = _headers(
        "Signed offer", "Bob Outlook <bob@contoso.example>", "X-Mailer", "Microsoft Outlook 16.0"
    )
    if text_part:
        msg.set_content(body + "\n")
    else:
        msg.make_mixed()
    msg.add_attachment(
        blob if blob is not None else tnef_blob(body, attachments),
        maintype="application",
        subtype="ms-tnef",
        filename="winmail.dat",
    )
    return msg.as_bytes()


# -- inline images ---------------------------------------------------------------------------
def outlook_inline_image(subject="Error on screen", named=True):
    """Outlook 2016 HTML with a pasted screenshot: multipart/related, the image part carries a
    Content-ID and ``name=`` but no Content-Disposition (as Outlook for Windows sends it);
    without ``named``, not even a name (as some mobile clients send it)."""
    msg = _headers(
        subject, "Bob Outlook <bob@contoso.example>", "X-Mailer", "Microsoft Outlook 16.0"
    )
    msg.set_content("See the screenshot:\n[cid:image001.png@01DB4A2C.5F1E8A90]\n")
    msg.add_alternative(
        '<html><body><div class="WordSection1"><p class="MsoNormal">See the screenshot:</p>'
        '<p class="MsoNormal"><img width="1" height="1" id="Picture_x0020_1" '
        'src="cid:image001.png@01DB4A2C.5F1E8A90" alt="screenshot"></p></div></body></html>',
        subtype="html",
    )
    # Outlook wraps the alternatives and the image in one multipart/related.
    related = EmailMessage()
    for name in ("From", "To", "Subject", "Date", "Message-ID", "X-Mailer"):
        related[name] = msg[name]
    alternative = EmailMessage()
    alternative.set_payload(msg.get_payload())
    alternative["Content-Type"] = msg["Content-Type"]
    related.set_type("multipart/related")
    related.set_param("type", "multipart/alternative")
    related.attach(alternative)
    image = EmailMessage()
    image.set_content(PNG, maintype="image", subtype="png", cid="<image001.png@01DB4A2C.5F1E8A90>")
    del image["Content-Disposition"]
    if named:
        image.set_param("name", "image001.png")
    related.attach(image)
    return related.as_bytes()


# -- calendar invitations --------------------------------------------------------------------
def google_invitation(subject="Invitation: Quarterly review @ Tue 10 Dec 2024 2pm - 3pm (CET)"):
    """Google Calendar's invitation: text, HTML and ``text/calendar; method=REQUEST`` as
    alternatives, plus the same calendar as ``invite.ics`` (structure of a received Gmail
    invitation; times in UTC, ``PRODID:-//Google Inc//Google Calendar 70.9054//EN``)."""
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:REQUEST",
            "BEGIN:VEVENT",
            "DTSTART:20241210T130000Z",
            "DTEND:20241210T140000Z",
            "DTSTAMP:20241203T093000Z",
            "ORGANIZER;CN=Grace Google:mailto:grace@gmail.example",
            "UID:3b8fk2l1q0v9p7m6n5c4x3z2y1@google.com",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE",
            " ;CN=Grace Google;X-NUM-GUESTS=0:mailto:grace@gmail.example",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=",
            " TRUE;CN=support@company.example;X-NUM-GUESTS=0:mailto:support@company.example",
            "DESCRIPTION:Agenda: figures of Q4.",
            "LOCATION:Meeting room Ada\\, 2nd floor",
            "SEQUENCE:0",
            "STATUS:CONFIRMED",
            "SUMMARY:Quarterly review",
            "TRANSP:OPAQUE",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    msg = _headers(subject, "Grace Google <grace@gmail.example>")
    msg.set_content("You have been invited to the following event.\n\nQuarterly review\n")
    msg.add_alternative("<p>You have been invited to the following event.</p>", subtype="html")
    msg.add_alternative(ics, subtype="calendar", params={"method": "REQUEST"})
    msg.make_mixed()
    msg.add_attachment(ics.encode(), maintype="application", subtype="ics", filename="invite.ics")
    return msg.as_bytes()


OUTLOOK_TIMEZONE = [
    "BEGIN:VTIMEZONE",
    "TZID:W. Europe Standard Time",
    "BEGIN:STANDARD",
    "DTSTART:16010101T030000",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:16010101T020000",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
]


# Exchange's UIDs are hex Global Object IDs
OUTLOOK_UID = "040000008200E00074C5B7101A82E008000000004AB1C2D3E4F5A601000000000000000010000000"


def outlook_calendar(
    method,
    subject,
    partstat="NEEDS-ACTION",
    organizer=None,
    attendee=None,
    start="20241211T100000",
    end="20241211T110000",
    sender=None,
    uid=OUTLOOK_UID,
):
    """Outlook / Exchange: ``text/calendar; method=...`` as the last alternative, no file name,
    base64; times in a Windows time zone defined by a VTIMEZONE (``PRODID:Microsoft Exchange
    Server 2010``). ``method`` is REQUEST, REPLY or CANCEL; a REPLY repeats the ``uid`` of the
    invitation it answers (RFC 5546)."""
    organizer = organizer or ("Bob Outlook", "bob@contoso.example")
    attendee = attendee or ("Support", "support@company.example")
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            f"METHOD:{method}",
            "PRODID:Microsoft Exchange Server 2010",
            "VERSION:2.0",
            *OUTLOOK_TIMEZONE,
            "BEGIN:VEVENT",
            f'ORGANIZER;CN="{organizer[0]}":mailto:{organizer[1]}',
            f'ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};RSVP=TRUE;CN="{attendee[0]}"'
            f":mailto:{attendee[1]}",
            f"UID:{uid}",
            f"SUMMARY;LANGUAGE=en-US:{subject.split(': ', 1)[-1]}",
            f"DTSTART;TZID=W. Europe Standard Time:{start}",
            f"DTEND;TZID=W. Europe Standard Time:{end}",
            "CLASS:PUBLIC",
            "PRIORITY:5",
            "DTSTAMP:20241203T093000Z",
            "TRANSP:OPAQUE",
            "STATUS:CANCELLED" if method == "CANCEL" else "STATUS:CONFIRMED",
            "SEQUENCE:0",
            "LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    msg = _headers(
        subject, sender or f"{organizer[0]} <{organizer[1]}>", "X-Mailer", "Microsoft Outlook 16.0"
    )
    msg.set_content("\n")
    msg.add_alternative("<html><body><p></p></body></html>", subtype="html")
    msg.add_alternative(
        ics.encode(),
        maintype="text",
        subtype="calendar",
        params={"method": method, "charset": "utf-8"},
    )
    return msg.as_bytes()


# -- quoted replies --------------------------------------------------------------------------
QUOTED = "Please restart the router and tell us if the light turns green."


def gmail_reply(html=True):
    """Gmail's reply: ``gmail_quote`` div with the "On ... wrote:" attribution and a blockquote
    (HTML), or the same as ``>`` lines (plain text), as Gmail's web client writes them."""
    text = (
        "It works again, thank you!\n\nAnna\n\n"
        "On Tue, 3 Dec 2024 at 10:12, Support <support@company.example> wrote:\n\n"
        f"> {QUOTED}\n>\n"
    )
    markup = (
        '<div dir="ltr">It works again, thank you!<div><br></div><div>Anna</div></div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, 3 Dec 2024 at 10:12, '
        "Support &lt;support@company.example&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
        f'rgb(204,204,204);padding-left:1ex">{QUOTED}</blockquote></div>'
    )
    return _reply("Anna Gmail <anna@gmail.example>", "Gmail", text, markup if html else None)


def outlook_reply(html=True):
    """Outlook for Windows' reply: a border-top div with bold From/Sent/To/Subject (HTML), or
    the "-----Original Message-----" block (plain text), no ``>`` marks."""
    text = (
        "Still broken after the restart.\n\nBob\n\n"
        "-----Original Message-----\n"
        "From: Support <support@company.example>\n"
        "Sent: Tuesday, December 3, 2024 10:12 AM\n"
        "To: Bob Outlook <bob@contoso.example>\n"
        "Subject: RE: Router\n\n"
        f"{QUOTED}\n"
    )
    markup = (
        '<html><head><meta name="Generator" content="Microsoft Word 15 (filtered medium)"></head>'
        '<body lang="EN-US"><div class="WordSection1"><p class="MsoNormal">Still broken after the '
        'restart.<o:p></o:p></p><p class="MsoNormal">Bob<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid '
        '#E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Support '
        "&lt;support@company.example&gt; <br><b>Sent:</b> Tuesday, December 3, 2024 10:12 AM<br>"
        "<b>To:</b> Bob Outlook &lt;bob@contoso.example&gt;<br><b>Subject:</b> RE: Router"
        f'<o:p></o:p></p></div></div><p class="MsoNormal">{QUOTED}<o:p></o:p></p></div>'
        "</body></html>"
    )
    return _reply("Bob Outlook <bob@contoso.example>", "Outlook", text, markup if html else None)


def apple_reply(html=True):
    """Apple Mail's reply: "On ..., at ..., X wrote:" then ``<blockquote type="cite">`` (HTML),
    or ``>`` lines (plain text)."""
    text = (
        "Sounds good, see you then.\n\nCarl\n\n"
        "> On 3 Dec 2024, at 10:12, Support <support@company.example> wrote:\n>\n"
        f"> {QUOTED}\n"
    )
    markup = (
        '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
        '<body style="overflow-wrap: break-word;">Sounds good, see you then.<div><br></div>'
        '<div>Carl<br><div><br><blockquote type="cite"><div>On 3 Dec 2024, at 10:12, Support '
        "&lt;support@company.example&gt; wrote:</div><br><div><div>"
        f"{QUOTED}</div></div></blockquote></div><br></div></body></html>"
    )
    return _reply("Carl Apple <carl@icloud.example>", "Apple Mail", text, markup if html else None)


def _reply(sender, client, text, markup):
    msg = _headers(f"Re: Router ({client}, {'HTML' if markup else 'text'})", sender)
    msg.set_content(text)
    if markup:
        msg.add_alternative(markup, subtype="html")
    return msg.as_bytes()


def _headers(subject, sender, *extra):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@company.example"
    msg["Subject"] = subject
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">"))
    for name, value in zip(extra[::2], extra[1::2], strict=True):
        msg[name] = value
    return msg

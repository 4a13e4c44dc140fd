# Run by scripts/run.sh inside `odoo shell`: a demo mailbox on the local Dovecot,
# seeded with sample mail over IMAP the first time, then one fetch.
# ruff: noqa: F821  (env is provided by odoo shell)
import imaplib
import importlib.util
import os
import sys
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

sys.path.insert(0, os.path.join(os.environ["MC_REPO"], "bench"))  # set by scripts/run.sh
from corpus import COMPANIES, generate  # noqa: E402


def make_demo_email(email_from, subject, body, headers=None, to="support@yourcompany.example"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = email_from, to, subject
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain="demo.example")
    for name, value in (headers or {}).items():
        del msg[name]
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


port = int(os.environ.get("MC_DEMO_IMAP_PORT", "14143"))
client = imaplib.IMAP4("127.0.0.1", port)
client.login("support", "support")
client.select("INBOX", readonly=True)
if not client.search(None, "ALL")[1][0].split():
    for raw in generate(30, seed=7, to="support@yourcompany.example"):
        client.append("INBOX", "", None, raw)
client.logout()

# Customer companies known to the CRM: new contacts join them by their email domain.
Partner = env["res.partner"]
for name, domain in COMPANIES:
    if not Partner.search_count([("name", "=", name), ("is_company", "=", True)]):
        Partner.create({"name": name, "is_company": True, "website": f"https://www.{domain}"})

# A typical rule set: what each email becomes.
Rule = env["mail.converter.rule"]
if not Rule.search_count([]):

    def cond(field, operator, value, **extra):
        return (0, 0, dict(field=field, operator=operator, value=value, **extra))

    vip_team = env["helpdesk.ticket.team"].create({"name": "VIP team"})
    Rule.create(
        [
            {
                "name": "Out of office",
                "action": "discard",
                "sequence": 1,
                "condition_ids": [
                    cond("subject", "contains", "out of office"),
                    cond("header", "starts_with", "auto-replied", header_name="Auto-Submitted"),
                ],
            },
            {
                "name": "Ticket replies",
                "action": "ticket_update",
                "sequence": 2,
                "condition_ids": [cond("subject", "regex", r"\[HT\d+\]")],
            },
            {
                "name": "VIP customers",
                "action": "ticket",
                "sequence": 3,
                "priority": "3",
                "team_id": vip_team.id,
                "condition_ids": [cond("from", "ends_with", "@vip.example")],
            },
            {
                "name": "Quote requests",
                "action": "lead",
                "sequence": 4,
                "lead_type": "opportunity",
                "condition_ids": [
                    cond("subject", "contains", "quote"),
                    cond("body", "contains", "quote"),
                ],
            },
            {"name": "Everything else", "action": "ticket", "sequence": 99},
        ]
    )

Server = env["fetchmail.server"]
# The demo's own mailboxes: one an admin added by hand to the demo (say a Microsoft 365
# one, unreachable here) is left alone when the demo runs again.
demo_boxes = Server.browse()


def mailbox(name, user, **values):
    """A converter mailbox on the demo's Dovecot (plain IMAP on loopback: its form shows the TLS warning)."""
    global demo_boxes
    found = Server.search([("name", "=", name)], limit=1)
    demo_boxes |= found
    if found:
        return found
    box = Server.create(
        dict(
            {
                "name": name,
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": port,
                "is_ssl": False,
                "verify_tls": False,
                "user": user,
                "password": user,
                "use_converter": True,
                "state": "done",
            },
            **values,
        )
    )
    demo_boxes |= box
    return box


def deliver(user, raws):
    """Append ``raws`` to ``user``'s inbox, once (the demo can run again)."""
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(user, user)
    client.select("INBOX", readonly=True)
    empty = not client.search(None, "ALL")[1][0].split()
    if empty:
        for raw in raws:
            client.append("INBOX", "", None, raw)
    client.logout()
    return empty


DATA = os.path.join(os.environ["MC_REPO"], "tests", "data")


def sample(*parts):
    with open(os.path.join(DATA, *parts), "rb") as fh:
        return fh.read()


server = mailbox(
    "Demo support mailbox",
    "support",
    object_id=env["ir.model"]._get("helpdesk.ticket").id,
    check_interval=5,
    contact_creation_addresses="support@yourcompany.example",
    converter_folder_ids=[
        (0, 0, {"path": "INBOX", "direction": "inbound", "after_action": "seen"})
    ],
)

# What the converter does with special mail, delivered after the sample support mail.
acme = Partner.search([("name", "=", "Acme Tools")], limit=1)
if not Partner.search_count([("name", "=", "Gone Customer")]):
    Partner.create(
        {"name": "Gone Customer", "email": "gone@customer.example", "parent_id": acme.id}
    )
if not Partner.search_count([("name", "=", "Vera Confidential")]):
    Partner.create(
        {
            "name": "Vera Confidential",
            "email": "vera@private.example",
            "mail_converter_import_private": True,
        }
    )
Ban = env["mail.converter.ban"]
if not Ban.search_count([("pattern", "=", "@spam.example")]):
    Ban.create({"pattern": "@spam.example", "reason": "Unsolicited offers"})
support_extra = [
    sample("bounces", "dsn_5_1_1.eml"),
    make_demo_email(
        "Vera Confidential <vera@private.example>",
        "Contract renewal, confidential",
        "Please keep this between us: we want to renew for three years.",
        {"Sensitivity": "Company-Confidential"},
    ),
    make_demo_email(
        "Auto Responder <noreply@holiday.example>",
        "Automatic reply: out until Monday",
        "I am out of the office until Monday.",
        {"Auto-Submitted": "auto-replied"},
    ),
    make_demo_email("Cheap Offers <deals@spam.example>", "You won a prize", "Click here."),
]
client = imaplib.IMAP4("127.0.0.1", port)
client.login("support", "support")
client.select("INBOX", readonly=True)
if len(client.search(None, "ALL")[1][0].split()) <= 30:
    for raw in support_extra:
        client.append("INBOX", "", None, raw)
client.logout()

# Conversations: winmail.dat, an inline image, invitations and quoted replies, as the test
# samples build them (tests/samples.py), delivered once.
_spec = importlib.util.spec_from_file_location(
    "mail_converter_samples", os.path.join(os.environ["MC_REPO"], "tests", "samples.py")
)
samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(samples)
client = imaplib.IMAP4("127.0.0.1", port)
client.login("support", "support")
client.select("INBOX", readonly=True)
if not client.search(None, "SUBJECT", '"Signed offer"')[1][0].split():
    for raw in (
        samples.outlook_winmail(),
        samples.outlook_inline_image(),
        samples.google_invitation(),
        samples.outlook_calendar("REQUEST", "Sync on the rollout"),
        samples.gmail_reply(),
        samples.outlook_reply(),
        samples.apple_reply(html=False),
    ):
        client.append("INBOX", "", None, raw)
client.logout()

# Conversations, part 1: two tickets the demo closes below (one a few days ago, one a month
# ago) so that their customers' replies reopen one and open a follow-up of the other; a
# colleague in Cc who becomes a follower; an email over the mailbox's size limit.
ROUTER_ID, PRINTER_ID = "<router-down@acme.example>", "<printer-jammed@acme.example>"
if not Partner.search_count([("email", "=", "colin@acme.example")]):
    Partner.create({"name": "Colin Acme", "email": "colin@acme.example", "parent_id": acme.id})
server.converter_max_size = 2  # MB; the demo's other mail is far smaller
oversized = EmailMessage()
oversized["From"], oversized["To"] = "Olaf Acme <olaf@acme.example>", "support@yourcompany.example"
oversized["Subject"] = "Scans of the damaged pallets"
oversized["Date"] = format_datetime(datetime.now().astimezone())
oversized["Message-ID"] = make_msgid(domain="acme.example")
oversized.set_content("Here are the scans of all 40 pallets.")
oversized.add_attachment(os.urandom(3 * 1024 * 1024), "application", "pdf", filename="scans.pdf")
client = imaplib.IMAP4("127.0.0.1", port)
client.login("support", "support")
client.select("INBOX", readonly=True)
if not client.search(None, "SUBJECT", '"Router down"')[1][0].split():
    for raw in (
        make_demo_email(
            "Karl Acme <karl@acme.example>",
            "Router down",
            "Our router in the warehouse is down since this morning.",
            {"Message-ID": ROUTER_ID},
        ),
        make_demo_email(
            "Karl Acme <karl@acme.example>",
            "Printer jammed",
            "The label printer jams on every second label.",
            {"Message-ID": PRINTER_ID},
        ),
        make_demo_email(
            "Dana Acme <dana@acme.example>",
            "Delivery address for next week",
            "Please deliver next week's order to our new warehouse.",
            {"Cc": "Colin Acme <colin@acme.example>"},
        ),
        oversized.as_bytes(),
    ):
        client.append("INBOX", "", None, raw)
client.logout()

# A salesperson BCCs the sales mailbox: logged on the customer, or explained back.
sales_tag = env["res.partner.category"].search([("name", "=", "Logged by BCC")], limit=1) or env[
    "res.partner.category"
].create({"name": "Logged by BCC"})
admin = env.ref("base.user_admin")
admin.partner_id.email = admin.partner_id.email or "admin@yourcompany.example"
mailbox(
    "Demo sales BCC mailbox",
    "sales",
    bcc_logging=True,
    bcc_user_ids=[(6, 0, admin.ids)],
    bcc_category_id=sales_tag.id,
)
karl = Partner.search([("email", "=", "karl@acme.example")], limit=1) or Partner.create(
    {"name": "Karl Acme", "email": "karl@acme.example", "parent_id": acme.id}
)
deliver(
    "sales",
    [
        make_demo_email(
            f"Mitchell Admin <{admin.partner_id.email}>",
            "Our offer for the fleet",
            "Hello Karl, please find our offer below.",
            to="Karl Acme <karl@acme.example>",
        ),
        make_demo_email(
            "Someone Else <someone@elsewhere.example>",
            "Lunch next week?",
            "Shall we meet?",
            to="Karl Acme <karl@acme.example>",
        ),
    ],
)

# An Italian certified mailbox (PEC): the real sender's message, with its envelope.
mailbox(
    "Demo PEC mailbox",
    "pec",
    is_pec=True,
    object_id=env["ir.model"]._get("helpdesk.ticket").id,
)
deliver("pec", [sample("pec", "pec_message.eml"), sample("pec", "pec_acceptance.eml")])

# A mailbox whose password changed: the overview shows it failing.
mailbox(
    "Old support mailbox",
    "support",
    password="changed-meanwhile",
    object_id=env["ir.model"]._get("helpdesk.ticket").id,
)
env.cr.commit()

for box in demo_boxes:
    if box.name != "Old support mailbox":
        box.button_confirm_login()
    env.cr.commit()
    box._fetch_mail()
    env.cr.commit()

# Conversations, part 2 (once): the team closes both tickets, then the customer replies to
# each; one is reopened, the other gets a follow-up ticket.
client = imaplib.IMAP4("127.0.0.1", port)
client.login("support", "support")
client.select("INBOX", readonly=True)
replied = bool(client.search(None, "SUBJECT", '"Re: Router down"')[1][0].split())
client.logout()
Ticket = env["helpdesk.ticket"]
done = env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
replies = []
for subject, message_id, days_ago, text in (
    ("Router down", ROUTER_ID, 3, "The router is down again since the storm."),
    ("Printer jammed", PRINTER_ID, 30, "The label printer jams again, same as last month."),
):
    ticket = Ticket.search([("name", "=", subject)], limit=1)
    if replied or not ticket:
        continue
    ticket.stage_id = done
    ticket.closed_date = datetime.now() - timedelta(days=days_ago)
    replies.append(
        make_demo_email(
            "Karl Acme <karl@acme.example>",
            f"Re: {subject}",
            text,
            {"In-Reply-To": message_id, "References": message_id},
        )
    )
env.cr.commit()
if replies:
    deliver_more = imaplib.IMAP4("127.0.0.1", port)
    deliver_more.login("support", "support")
    for raw in replies:
        deliver_more.append("INBOX", "", None, raw)
    deliver_more.logout()
    server._fetch_mail()
    env.cr.commit()

# The demo machine has no Internet: Odoo's lead enrichment (IAP) would only log errors.
enrich = env.ref("crm_iap_enrich.ir_cron_lead_enrichment", raise_if_not_found=False)
if enrich:
    enrich.active = False

# An archive import, stopped after its first batch: the import form shows its progress
# (the scheduler's import job then finishes it in the background).
Job = env["mail.converter.import.job"]
if not Job.search_count([]):
    mbox = "".join(
        "From demo@import Thu Jan  1 00:00:00 2026\n"
        + raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\nFrom ", "\n>From ")
        + "\n"
        for raw in generate(120, seed=21, to="support@yourcompany.example")
    )
    attachment = env["ir.attachment"].create(
        {"name": "old-crm-export.mbox", "raw": mbox.encode(), "mimetype": "application/mbox"}
    )
    job = Job._import_create(server, attachment, "inbound")
    job._import_count()
    job.with_context(cron_end_time=time.monotonic())._import_run(commit=False)
env.cr.commit()
print(
    f"Demo mailbox: {server.converter_done_count} emails converted, {server.converter_failed_count} failed."
)

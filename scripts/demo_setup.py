# Run by scripts/run.sh inside `odoo shell`: a demo mailbox on the local Dovecot,
# seeded with sample mail over IMAP the first time, then one fetch.
# ruff: noqa: F821  (env is provided by odoo shell)
import imaplib
import os
import sys

sys.path.insert(0, os.path.join(os.environ["MC_REPO"], "bench"))  # set by scripts/run.sh
from corpus import COMPANIES, generate  # noqa: E402

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
server = Server.search([("name", "=", "Demo support mailbox")], limit=1)
if not server:
    server = Server.create(
        {
            "name": "Demo support mailbox",
            "server_type": "imap",
            "server": "127.0.0.1",
            "port": port,
            # The demo's Dovecot speaks plain IMAP on loopback: the form shows the TLS warning.
            "is_ssl": False,
            "verify_tls": False,
            "user": "support",
            "password": "support",
            "use_converter": True,
            "object_id": env["ir.model"]._get("helpdesk.ticket").id,
            "check_interval": 5,
            "contact_creation_addresses": "support@yourcompany.example",
            "converter_folder_ids": [
                (0, 0, {"path": "INBOX", "direction": "inbound", "after_action": "seen"}),
            ],
        }
    )
server.button_confirm_login()
env.cr.commit()
server.fetch_mail()
env.cr.commit()
print(
    f"Demo mailbox: {server.converter_done_count} emails converted, {server.converter_failed_count} failed."
)

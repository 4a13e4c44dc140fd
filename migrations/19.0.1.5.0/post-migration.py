"""19.0.1.5.0 drops two lines the *Trusted receiving servers* of Outlook mailboxes were
prefilled with: ``*.prod.outlook.com`` and ``spf.protection.outlook.com`` are host names
of Exchange Online, never the authserv-id of its Authentication-Results (it writes none),
so a header naming them was written by someone else, maybe the sender.
"""

_DROPPED = ("*.prod.outlook.com", "spf.protection.outlook.com")


def migrate(cr, version):
    cr.execute(
        "SELECT id, auth_servers FROM fetchmail_server "
        "WHERE auth_servers LIKE %s OR auth_servers LIKE %s",
        ["%prod.outlook.com%", "%spf.protection.outlook.com%"],
    )
    for server_id, text in cr.fetchall():
        lines = [line for line in text.splitlines() if line.strip().lower() not in _DROPPED]
        cr.execute(
            "UPDATE fetchmail_server SET auth_servers = %s WHERE id = %s",
            ["\n".join(lines) or None, server_id],
        )

"""19.0.1.4.0 replaces the mailbox's *Reopen closed tickets* checkbox by a number of days.

A mailbox that reopened closed tickets gets the new default (14 days); one that did not
keeps filing replies on the closed ticket (0 days: never reopen), as before the upgrade.
"""


def migrate(cr, version):
    cr.execute(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'fetchmail_server' AND column_name = 'converter_reopen_closed'"
    )
    if not cr.fetchone():
        return
    cr.execute(
        "UPDATE fetchmail_server SET converter_reopen_days = "
        "CASE WHEN converter_reopen_closed THEN 14 ELSE 0 END"
    )
    cr.execute("ALTER TABLE fetchmail_server DROP COLUMN converter_reopen_closed")

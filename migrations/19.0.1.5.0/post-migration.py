"""19.0.1.5.0: two corrections that an upgrade does not make by itself.

1. The new acknowledgement text reaches databases upgraded from an older version.

Mail templates are ``noupdate``: an upgrade never rewrites them, so a database
installed before 19.0.1.4.0 kept the acknowledgement without the sentence a
follow-up ticket needs ("your request HT00012 was closed some time ago, so your
message is a new request"). The body is replaced by the shipped one only in the
languages where it is still the text shipped before (19.0.1.1.0 to 19.0.1.3.x):
a template the admin edited is left as it is.

2. Two lines the *Trusted receiving servers* of Outlook mailboxes were
prefilled with are dropped: ``*.prod.outlook.com`` and ``spf.protection.outlook.com`` are host names
of Exchange Online, never the authserv-id of its Authentication-Results (it writes none),
so a header naming them was written by someone else, maybe the sender.
"""

import logging
import re

from lxml import etree
from lxml import html as lxml_html

from odoo import SUPERUSER_ID, api
from odoo.tools.misc import file_path

_logger = logging.getLogger(__name__)

TEMPLATE = "mail_converter.mail_template_ticket_acknowledgement"
DATA_FILE = "mail_converter/data/mail_converter_ticket_data.xml"
# Host names of Exchange Online once prefilled as trusted authserv-ids (it writes none).
_DROPPED = ("*.prod.outlook.com", "spf.protection.outlook.com")

# The body shipped from 19.0.1.1.0 to 19.0.1.3.x, as in data/mail_converter_ticket_data.xml then.
PREVIOUS_BODY = """<div style="margin: 0px; padding: 0px;">
    <p style="margin: 0px; padding: 0px; font-size: 13px;">
        Hello <t t-out="object.partner_id.name or object.partner_name or ''">Alice</t>,
        <br/><br/>
        Thank you for your message. We have opened ticket
        <strong t-out="object.number or ''">HT00042</strong>
        (<t t-out="object.name or ''">Printer on fire</t>) and will get back to you as soon as possible.
        <br/><br/>
        To add information, simply reply to this email and keep
        <strong>[<t t-out="object.number or ''">HT00042</t>]</strong> in the subject.
        <br/><br/>
        This is an automatic acknowledgement.
        <br/>
        <t t-out="object.company_id.name or ''">YourCompany</t>
    </p>
</div>"""


def drop_outlook_host_names(cr):
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


def normalized(body):
    """``body`` as comparable HTML: parsed and serialised again, whitespace collapsed."""
    if not body:
        return ""
    root = lxml_html.fragment_fromstring(str(body), create_parent="div")
    text = etree.tostring(root, method="html", encoding="unicode")
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", text)).strip()


def shipped_body():
    """The acknowledgement's body in this version's data file, read as Odoo's loader reads it."""
    tree = etree.parse(file_path(DATA_FILE))
    field = tree.xpath(
        "//record[@id='mail_template_ticket_acknowledgement']/field[@name='body_html']"
    )[0]
    return "".join(etree.tostring(node, method="html", encoding="unicode") for node in field)


def rewrite_acknowledgement(env):
    """Give the acknowledgement the shipped body in every language where it is still the
    previous shipped text; return those languages."""
    template = env.ref(TEMPLATE, raise_if_not_found=False)
    if not template:
        return []
    template.flush_recordset(["body_html"])
    env.cr.execute("SELECT body_html FROM mail_template WHERE id = %s", (template.id,))
    bodies = env.cr.fetchone()[0] or {}
    previous = normalized(PREVIOUS_BODY)
    languages = sorted(lang for lang, body in bodies.items() if normalized(body) == previous)
    if not languages:
        return []
    body = shipped_body()
    for lang in languages:
        template.with_context(lang=lang).write({"body_html": body})
    kept = sorted(set(bodies) - set(languages))
    _logger.info(
        "Acknowledgement template: new text in %s%s",
        ", ".join(languages),
        f"; edited text kept in {', '.join(kept)}" if kept else "",
    )
    return languages


def migrate(cr, version):
    drop_outlook_host_names(cr)
    rewrite_acknowledgement(api.Environment(cr, SUPERUSER_ID, {}))

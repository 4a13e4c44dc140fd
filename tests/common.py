"""Shared test helpers: a real Dovecot on loopback and RFC 822 message builders.

Extending modules can reuse :class:`MailConverterDovecotCase` to test their own
hooks against a real mailbox.
"""

import contextlib
import os
import shutil
import socket
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from odoo import fields
from odoo.tests import TransactionCase

from .dovecot import Dovecot

MAILBOX_USERS = ("support", "sales", "archive")


def free_port_base(start=None):
    """First block of 100 ports whose IMAP/POP ports are all free on loopback."""
    start = start or int(os.environ.get("MC_TEST_PORT_BASE", 24100))
    for base in range(start, start + 5000, 100):
        free = True
        for offset in (10, 43, 93, 95):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", base + offset)) == 0:
                    free = False
                    break
        if free:
            return base
    raise RuntimeError("No free loopback ports for Dovecot")


def make_email(
    subject="Printer on fire",
    body="Hello,\nthe printer is on fire.\n",
    email_from="Alice Customer <alice@customer.example>",
    to="support@company.example",
    cc=None,
    message_id=True,
    html=None,
    attachments=(),
    headers=None,
    date=None,
):
    """Build RFC 822 bytes the way a mail client would send them."""
    msg = EmailMessage()
    msg["From"] = email_from
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or fields.Datetime.now().replace(microsecond=0).astimezone())
    if message_id is True:
        msg["Message-ID"] = make_msgid(domain="customer.example")
    elif message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, content, mimetype in attachments:
        maintype, subtype = mimetype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


class MailConverterDovecotCase(TransactionCase):
    """TransactionCase with a private Dovecot and a converter mailbox on it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, mail_create_nolog=True, mail_notrack=True,
                                       tracking_disable=True))
        cls._dovecot_dir = tempfile.mkdtemp(prefix="mc-dovecot-")
        cls.dovecot = Dovecot(cls._dovecot_dir, free_port_base(), MAILBOX_USERS).start()
        cls.addClassCleanup(shutil.rmtree, cls._dovecot_dir, ignore_errors=True)
        cls.addClassCleanup(cls.dovecot.stop)
        cls.ticket_model = cls.env["ir.model"]._get("helpdesk.ticket")
        # Other mailboxes in the database must not interfere with the cron tests.
        cls.env["fetchmail.server"].search([]).action_archive()
        cls.server = cls.make_server()

    def setUp(self):
        super().setUp()
        for user in MAILBOX_USERS:
            self.dovecot.reset_user(user)

    @classmethod
    def make_server(cls, user="support", protocol="imap", security="none", folders=None, **values):
        ports = {
            ("imap", "none"): cls.dovecot.imap_port, ("imap", "starttls"): cls.dovecot.imap_port,
            ("imap", "ssl"): cls.dovecot.imaps_port, ("pop", "none"): cls.dovecot.pop3_port,
            ("pop", "starttls"): cls.dovecot.pop3_port, ("pop", "ssl"): cls.dovecot.pop3s_port,
        }
        vals = {
            "name": f"{user} {protocol} {security}",
            "server_type": protocol,
            "server": "127.0.0.1",
            "port": ports[protocol, security],
            "is_ssl": security == "ssl",
            "starttls": security == "starttls",
            "user": user,
            "password": user,
            "use_converter": True,
            "object_id": cls.ticket_model.id,
            "state": "done",
        }
        if folders is not None:
            vals["folder_ids"] = [fields.Command.create(f) for f in folders]
        vals.update(values)
        return cls.env["fetchmail.server"].create(vals)

    def fetch(self, server=None, cron=False):
        """Run one fetch as the scheduler or the 'Fetch now' button does, with real commits."""
        server = server or self.server
        context = {"cron_id": self.env.ref("mail.ir_cron_mail_gateway_action").id} if cron else {}
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            exception = server.with_env(server.env(cr=cr)).with_context(**context)._fetch_mail()
        self.env.invalidate_all()
        return exception

    def append(self, raw, folder="INBOX", user="support", flags=""):
        if folder != "INBOX":
            with contextlib.suppress(Exception):
                self.dovecot.create_folder(user, folder)
        return self.dovecot.append(user, raw, folder, flags)

    def logs(self, server=None, **domain):
        dom = [("server_id", "=", (server or self.server).id)]
        dom += [(k, "=", v) for k, v in domain.items()]
        return self.env["mail.converter.log"].search(dom)

    def tickets(self, subject):
        return self.env["helpdesk.ticket"].search([("name", "=", subject)])

"""Shared test helpers: an in-memory mail server, a real Dovecot on loopback, RFC 822 builders.

Extending modules can reuse :class:`MailConverterCase` (in memory, fast) or
:class:`MailConverterDovecotCase` (a real IMAP/POP3 server) to test their own hooks.
"""

import contextlib
import os
import shutil
import socket
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from unittest.mock import patch

from odoo import fields
from odoo.tests import TransactionCase

from ..tools.connection import MailboxError
from ..tools.memory_mailbox import MemoryAccount, MemoryMailbox
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


class MailConverterCase(TransactionCase):
    """TransactionCase with a converter mailbox on an in-memory mail server.

    For the pipeline, rules and matching, which do not depend on the protocol.
    Extending modules can reuse it to test their own hooks cheaply.
    """

    MAILBOX_USERS = MAILBOX_USERS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(
            context=dict(
                cls.env.context, mail_create_nolog=True, mail_notrack=True, tracking_disable=True
            )
        )
        cls._setup_mail_server()
        cls.ticket_model = cls.env["ir.model"]._get("helpdesk.ticket")
        # Other mailboxes in the database must not interfere with the cron tests.
        cls.env["fetchmail.server"].search([]).action_archive()
        cls.server = cls.make_server()

    @classmethod
    def _setup_mail_server(cls):
        cls.accounts = {}
        accounts = cls.accounts

        def connect(server):
            account = accounts.get(server.user)
            if account is None:
                raise MailboxError(f"LOGIN as {server.user} failed: unknown user")
            return MemoryMailbox(account, server.user, server.password).login()

        cls.startClassPatcher(
            patch.object(type(cls.env["fetchmail.server"]), "_converter_connect", connect)
        )

    def setUp(self):
        super().setUp()
        self._reset_mail_server()

    def _reset_mail_server(self):
        """Empty every test account before each test."""
        for user in self.MAILBOX_USERS:
            self.accounts[user] = MemoryAccount(user, user)

    @classmethod
    def _server_location(cls, protocol, security):
        return {"server": "memory.invalid", "port": 993}

    @classmethod
    def make_server(
        cls, user="support", protocol="imap", security="none", folders=None, env=None, **values
    ):
        """A converter mailbox on the test mail server (in ``env``, the test's by default)."""
        env = env or cls.env
        vals = {
            "name": f"{user} {protocol} {security}",
            "server_type": protocol,
            "is_ssl": security == "ssl",
            "starttls": security == "starttls",
            # Dovecot's test certificate is self-signed; new mailboxes verify by default.
            "verify_tls": False,
            "user": user,
            "password": user,
            "use_converter": True,
            "object_id": env["ir.model"]._get("helpdesk.ticket").id,
            "state": "done",
            **cls._server_location(protocol, security),
        }
        if folders is not None:
            vals["converter_folder_ids"] = [fields.Command.create(f) for f in folders]
        vals.update(values)
        return env["fetchmail.server"].create(vals)

    def fetch(self, server=None, cron=False):
        """Run one fetch as the scheduler or the 'Fetch now' button does, with real commits."""
        server = server or self.server
        context = {"cron_id": self.env.ref("mail.ir_cron_mail_gateway_action").id} if cron else {}
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            exception = server.with_env(server.env(cr=cr)).with_context(**context)._fetch_mail()
        self.env.invalidate_all()
        return exception

    def append(self, raw, folder="INBOX", user="support", flags=()):
        """Deliver ``raw`` into a folder of the mail server; return its UID."""
        return self.accounts[user].append(raw, folder, flags)

    def server_flags(self, user="support", folder="INBOX"):
        """``{uid: flags}`` of a folder on the mail server."""
        return self.accounts[user].flags(folder)

    def logs(self, server=None, **domain):
        dom = [("server_id", "=", (server or self.server).id)]
        dom += [(k, "=", v) for k, v in domain.items()]
        return self.env["mail.converter.log"].search(dom)

    def tickets(self, subject):
        return self.env["helpdesk.ticket"].search([("name", "=", subject)])


def customer_ticket(env, login, name):
    """Acme (with a website), its contact Carla, a helpdesk user ``login`` and Carla's ticket
    assigned to them: the record people of the trust tests. Returns the four records."""
    Partner = env["res.partner"]
    acme = Partner.create(
        {"name": "Acme", "is_company": True, "website": "https://www.acme.example"}
    )
    carla = Partner.create(
        {"name": "Carla Customer", "email": "carla@acme.example", "parent_id": acme.id}
    )
    user = env["res.users"].create(
        {
            "name": name,
            "login": login,
            "email": login,
            "group_ids": [fields.Command.link(env.ref("helpdesk_mgmt.group_helpdesk_user").id)],
        }
    )
    ticket = env["helpdesk.ticket"].create(
        {"name": "Broken printer", "description": "x", "partner_id": carla.id, "user_id": user.id}
    )
    return acme, carla, user, ticket


def start_dovecot(cls, users=MAILBOX_USERS):
    """Start a private Dovecot on loopback for test class ``cls``; stopped and removed after it."""
    directory = tempfile.mkdtemp(prefix="mc-dovecot-")
    cls.dovecot = Dovecot(directory, free_port_base(), users).start()
    cls.addClassCleanup(shutil.rmtree, directory, ignore_errors=True)
    cls.addClassCleanup(cls.dovecot.stop)
    return cls.dovecot


class MailConverterDovecotCase(MailConverterCase):
    """The same, on a private Dovecot on loopback: for the protocol layer and end-to-end stories."""

    @classmethod
    def _setup_mail_server(cls):
        start_dovecot(cls)

    def _reset_mail_server(self):
        for user in MAILBOX_USERS:
            self.dovecot.reset_user(user)

    @classmethod
    def _server_location(cls, protocol, security):
        ports = {
            ("imap", "none"): cls.dovecot.imap_port,
            ("imap", "starttls"): cls.dovecot.imap_port,
            ("imap", "ssl"): cls.dovecot.imaps_port,
            ("pop", "none"): cls.dovecot.pop3_port,
            ("pop", "starttls"): cls.dovecot.pop3_port,
            ("pop", "ssl"): cls.dovecot.pop3s_port,
        }
        return {"server": "127.0.0.1", "port": ports[protocol, security]}

    def append(self, raw, folder="INBOX", user="support", flags=""):
        if folder != "INBOX":
            with contextlib.suppress(Exception):
                self.dovecot.create_folder(user, folder)
        return self.dovecot.append(user, raw, folder, flags)

    def server_flags(self, user="support", folder="INBOX"):
        return self.dovecot.messages(user, folder)

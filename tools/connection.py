"""IMAP and POP3 mailboxes behind one small protocol, with no Odoo import.

Every mailbox offers ``open_folder``, ``pending``, ``retrieve``, ``handled``
and ``disconnect``. IMAP reads with ``BODY.PEEK[]`` so fetching never sets
``\\Seen``; flags change only when the caller says a message is handled,
which it does after its records are committed.
"""

import imaplib
import poplib
import re
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone

TIMEOUT = 60
# imaplib refuses responses longer than this; 10 MB attachments are normal mail.
imaplib._MAXLINE = 100_000_000
poplib._MAXLINE = 65536

_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID_RE = re.compile(rb"UID (\d+)")
_LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.+)$')


class MailboxError(Exception):
    """A protocol-level failure the caller reports on the mailbox."""


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uids: list  # IMAP: ints; POP3: UIDL strings


def _tls_context(verify):
    if verify:
        return ssl.create_default_context()
    # Self-hosted servers commonly use self-signed certificates; the admin opts out.
    return ssl._create_unverified_context()  # noqa: S323


def _imap_quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(exc):
    """Server replies arrive as bytes inside exception args; show them as text."""
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _internal_date(response):
    """The INTERNALDATE of a FETCH response line as a naive UTC datetime, or ``None``."""
    parsed = imaplib.Internaldate2tuple(response)
    if not parsed:
        return None
    return datetime.fromtimestamp(time.mktime(parsed), tz=timezone.utc).replace(tzinfo=None)


def _check(typ, data, what):
    if typ != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise MailboxError(f"{what} failed: {detail}")
    return data


class ImapMailbox:
    """One IMAP session. ``security`` is ``none``, ``ssl`` or ``starttls``."""

    protocol = "imap"

    def __init__(
        self, host, port, user, password, security="none", verify_tls=False, timeout=TIMEOUT
    ):
        context = _tls_context(verify_tls)
        if security == "ssl":
            self.client = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
        else:
            self.client = imaplib.IMAP4(host, port, timeout=timeout)
            if security == "starttls":
                self.client.starttls(ssl_context=context)
        self.user, self.password = user, password
        self.selected = None
        # UID -> when the server received it (INTERNALDATE, naive UTC), filled by retrieve().
        self.received = {}

    def login(self):
        try:
            _check(*self.client.login(self.user, self.password), "LOGIN")
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"LOGIN as {self.user} failed: {_text(exc)}") from exc
        return self

    def list_folders(self):
        data = _check(*self.client.list(), "LIST")
        names = []
        for line in data:
            if not isinstance(line, bytes):
                continue
            match = _LIST_RE.match(line)
            if not match or b"\\Noselect" in match.group("flags"):
                continue
            name = match.group("name").strip()
            if name.startswith(b'"') and name.endswith(b'"'):
                name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
            names.append(name.decode("utf-8", "replace"))
        return sorted(names)

    def open_folder(self, path, after_uid=0, unread_only=False):
        """SELECT ``path``; return its UIDVALIDITY and the UIDs above ``after_uid``."""
        typ, data = self.client.select(_imap_quote(path))
        _check(typ, data, f"SELECT {path}")
        self.selected = path
        uidvalidity = 0
        for resp in self.client.untagged_responses.get("OK", []):
            found = _UIDVALIDITY_RE.search(resp)
            if found:
                uidvalidity = int(found.group(1))
        if not uidvalidity:
            typ, data = self.client.status(_imap_quote(path), "(UIDVALIDITY)")
            found = _UIDVALIDITY_RE.search(data[0] or b"")
            uidvalidity = int(found.group(1)) if found else 0
        criteria = [f"UID {after_uid + 1}:*"]
        if unread_only:
            criteria.append("UNSEEN")
        data = _check(*self.client.uid("SEARCH", *criteria), "UID SEARCH")
        # "n:*" always matches the last message, even below n.
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > after_uid)
        return FolderState(uidvalidity, uids)

    def retrieve(self, uids):
        """Yield ``(uid, raw_bytes)``; one round trip for the whole batch."""
        if not uids:
            return
        typ, data = self.client.uid(
            "FETCH", ",".join(str(u) for u in uids), "(UID INTERNALDATE BODY.PEEK[])"
        )
        _check(typ, data, "UID FETCH")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                found = _FETCH_UID_RE.search(item[0])
                if found:
                    uid = int(found.group(1))
                    self.received[uid] = _internal_date(item[0])
                    yield uid, item[1]

    def handled(self, uids, action, move_to=None):
        """Apply the folder's after-action to committed messages."""
        if not uids or action == "keep":
            return
        uid_set = ",".join(str(u) for u in uids)
        if action == "seen":
            _check(*self.client.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Seen)"), "UID STORE")
        elif action == "move":
            if not move_to:
                raise MailboxError("No target folder to move to")
            if "MOVE" in self.client.capabilities:
                _check(*self.client.uid("MOVE", uid_set, _imap_quote(move_to)), "UID MOVE")
            else:
                _check(*self.client.uid("COPY", uid_set, _imap_quote(move_to)), "UID COPY")
                self._delete(uid_set)
        elif action == "delete":
            self._delete(uid_set)
        else:
            raise MailboxError(f"Unknown after-action {action!r}")

    def _delete(self, uid_set):
        _check(*self.client.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
        if "UIDPLUS" in self.client.capabilities:
            # Only expunge our own messages, not ones another client flagged.
            _check(*self.client.uid("EXPUNGE", uid_set), "UID EXPUNGE")
        else:
            _check(*self.client.expunge(), "EXPUNGE")

    def disconnect(self):
        try:
            if self.selected:
                self.client.close()
        finally:
            self.client.logout()


class Pop3Mailbox:
    """One POP3 session; messages are told apart by UIDL, deletions happen at QUIT."""

    protocol = "pop"

    def __init__(
        self, host, port, user, password, security="none", verify_tls=False, timeout=TIMEOUT
    ):
        context = _tls_context(verify_tls)
        if security == "ssl":
            self.client = poplib.POP3_SSL(host, port, context=context, timeout=timeout)
        else:
            self.client = poplib.POP3(host, port, timeout=timeout)
            if security == "starttls":
                self.client.stls(context=context)
        self.user, self.password = user, password
        self._numbers = {}

    def login(self):
        try:
            self.client.user(self.user)
            self.client.pass_(self.password)
        except poplib.error_proto as exc:
            raise MailboxError(f"LOGIN as {self.user} failed: {_text(exc)}") from exc
        return self

    def list_folders(self):
        return ["INBOX"]

    def open_folder(self, path="INBOX", after_uid=0, unread_only=False):
        """POP3 has one folder and no UID order: every UIDL on the server is returned."""
        _resp, lines, _octets = self.client.uidl()
        self._numbers = {}
        for line in lines:
            num, uidl = line.decode("ascii", "replace").split(None, 1)
            self._numbers[uidl] = int(num)
        return FolderState(0, list(self._numbers))

    def retrieve(self, uidls):
        for uidl in uidls:
            num = self._numbers.get(uidl)
            if num is None:
                continue
            _resp, lines, _octets = self.client.retr(num)
            yield uidl, b"\r\n".join(lines) + b"\r\n"

    def handled(self, uidls, action, move_to=None):
        if action != "delete":
            return  # POP3 has no flags or folders: keep is all it can do otherwise.
        for uidl in uidls:
            if uidl in self._numbers:
                self.client.dele(self._numbers[uidl])

    def disconnect(self):
        self.client.quit()


def connect(
    protocol, host, port, user, password, security="none", verify_tls=False, timeout=TIMEOUT
):
    """Open and log in; raise :class:`MailboxError` or ``OSError`` on failure."""
    cls = ImapMailbox if protocol == "imap" else Pop3Mailbox
    try:
        return cls(host, port, user, password, security, verify_tls, timeout).login()
    except (imaplib.IMAP4.error, poplib.error_proto) as exc:
        raise MailboxError(str(exc)) from exc

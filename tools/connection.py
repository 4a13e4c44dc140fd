"""IMAP and POP3 mailboxes behind one small protocol, with no Odoo import.

Every mailbox offers ``open_folder``, ``pending``, ``retrieve``, ``handled``
and ``disconnect``. IMAP reads with ``BODY.PEEK[]`` so fetching never sets
``\\Seen``; flags change only when the caller says a message is handled,
which it does after its records are committed.

Reads are bounded per session and per message, never by patching the standard
library for the whole process: each message's size is asked first, messages
above the mailbox's limit are read as their header block only, a round trip
downloads at most :data:`BATCH_BYTES` (a larger message comes alone), and a
POP3 line may be as long as its message but no longer. A POP3 protocol error
on one message is reported for that message (:class:`Unreadable`); the session
is then opened again and the other messages are read.
"""

import contextlib
import imaplib
import poplib
import re
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from . import mime
from .mime import header_block

TIMEOUT = 60
# Bytes one IMAP round trip downloads at most; a message larger than this comes alone.
BATCH_BYTES = 32 * 1024 * 1024
# What is read of a message above the mailbox's size limit: its header block, up to this.
HEAD_BYTES = mime.HEAD_BYTES
# Longest IMAP response line (not literal): a UID SEARCH of about two million messages.
IMAP_MAX_LINE = 16 * 1024 * 1024
# Longest POP3 line outside a message (status lines, UIDL, LIST); RFC 1939 lines are short.
POP3_MAX_LINE = 64 * 1024

_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID_RE = re.compile(rb"UID (\d+)")
_FETCH_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
_LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.+)$')


class MailboxError(Exception):
    """A protocol-level failure the caller reports on the mailbox."""


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uids: list  # IMAP: ints; POP3: UIDL strings


@dataclass(frozen=True)
class Unreadable:
    """Yielded by ``retrieve`` in place of a message the server could not deliver, with why."""

    reason: str


def batch_by_size(sizes, budget):
    """Split ``[(uid, size)]`` into consecutive batches of at most ``budget`` bytes each; a
    message larger than the budget is a batch of its own."""
    batch, total = [], 0
    for uid, size in sizes:
        if batch and total + size > budget:
            yield batch
            batch, total = [], 0
        batch.append((uid, size))
        total += size
    if batch:
        yield batch


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


class _BoundedImapLines:
    """imaplib bounds response lines by a module-wide constant; this session has its own bound."""

    max_line = IMAP_MAX_LINE

    def readline(self):
        line = self.file.readline(self.max_line + 1)
        if len(line) > self.max_line:
            raise self.error(f"got more than {self.max_line} bytes in one line")
        return line


class _Imap4(_BoundedImapLines, imaplib.IMAP4):
    pass


class _Imap4Ssl(_BoundedImapLines, imaplib.IMAP4_SSL):
    pass


class ImapMailbox:
    """One IMAP session. ``security`` is ``none``, ``ssl`` or ``starttls``."""

    protocol = "imap"

    def __init__(
        self, host, port, user, password, security="none", verify_tls=True, timeout=TIMEOUT
    ):
        context = _tls_context(verify_tls)
        if security == "ssl":
            self.client = _Imap4Ssl(host, port, ssl_context=context, timeout=timeout)
        else:
            self.client = _Imap4(host, port, timeout=timeout)
            if security == "starttls":
                self.client.starttls(ssl_context=context)
        self.user, self.password = user, password
        self.selected = None
        # UID -> when the server received it (INTERNALDATE, naive UTC), filled by retrieve().
        self.received = {}
        # UID -> its size on the server (RFC822.SIZE), filled by retrieve().
        self.sizes = {}

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

    def retrieve(self, uids, max_size=0):
        """Yield ``(uid, raw_bytes)``, in round trips of at most :data:`BATCH_BYTES`.

        A message larger than ``max_size`` (0: no limit) is read as its header block only;
        ``sizes`` tells its real size, so the caller can tell it apart.
        """
        if not uids:
            return
        sizes = self._fetch_sizes(uids)
        self.sizes.update(sizes)
        present = [(uid, sizes[uid]) for uid in uids if uid in sizes]
        too_large = [uid for uid, size in present if max_size and size > max_size]
        readable = [(uid, size) for uid, size in present if not (max_size and size > max_size)]
        for batch in batch_by_size(readable, BATCH_BYTES):
            yield from self._fetch([uid for uid, _size in batch], "BODY.PEEK[]")
        if too_large:
            for uid, head in self._fetch(too_large, f"BODY.PEEK[HEADER]<0.{HEAD_BYTES}>"):
                yield uid, header_block(head)

    def _fetch_sizes(self, uids):
        """``{uid: size}`` of the messages still in the folder."""
        typ, data = self.client.uid("FETCH", ",".join(str(u) for u in uids), "(UID RFC822.SIZE)")
        _check(typ, data, "UID FETCH RFC822.SIZE")
        sizes = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _FETCH_UID_RE.search(line), _FETCH_SIZE_RE.search(line)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    def _fetch(self, uids, part):
        """Yield ``(uid, bytes)`` of ``part`` of each message, in one round trip."""
        typ, data = self.client.uid(
            "FETCH", ",".join(str(u) for u in uids), f"(UID INTERNALDATE {part})"
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


class _BoundedPop3(poplib.POP3):
    """poplib bounds lines by a module-wide constant; this session has its own bound, raised
    to a message's size while that message is read (mail may hold very long lines)."""

    max_line = POP3_MAX_LINE

    def _getline(self):
        line = self.file.readline(self.max_line + 1)
        if len(line) > self.max_line:
            raise poplib.error_proto(f"line longer than {self.max_line} bytes")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        # RFC 1939 ends lines with CRLF; some servers send a bare LF.
        return line.removesuffix(b"\n").removesuffix(b"\r"), len(line)


class _BoundedPop3Ssl(_BoundedPop3, poplib.POP3_SSL):
    pass


class Pop3Mailbox:
    """One POP3 session; messages are told apart by UIDL, deletions happen at QUIT."""

    protocol = "pop"

    def __init__(
        self, host, port, user, password, security="none", verify_tls=True, timeout=TIMEOUT
    ):
        self._address = (host, port, security, verify_tls, timeout)
        self.user, self.password = user, password
        self.client = self._open()
        self._numbers = {}
        self._sizes = {}  # message number -> size (LIST)
        self.sizes = {}  # UIDL -> size, filled by retrieve()

    def _open(self):
        host, port, security, verify_tls, timeout = self._address
        context = _tls_context(verify_tls)
        if security == "ssl":
            return _BoundedPop3Ssl(host, port, context=context, timeout=timeout)
        client = _BoundedPop3(host, port, timeout=timeout)
        if security == "starttls":
            client.stls(context=context)
        return client

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
        _resp, lines, _octets = self.client.list()
        self._sizes = {}
        for line in lines:
            num, size = line.split()[:2]
            self._sizes[int(num)] = int(size)
        return FolderState(0, list(self._numbers))

    def retrieve(self, uidls, max_size=0):
        """Yield ``(uidl, raw_bytes)``; a message larger than ``max_size`` (0: no limit) as its
        header block only, one the server fails to deliver as :class:`Unreadable`."""
        for uidl in uidls:
            num = self._numbers.get(uidl)
            if num is None:
                continue
            size = self._sizes.get(num, 0)
            self.sizes[uidl] = size
            try:
                if max_size and size > max_size:
                    raw = self._top(num)
                else:
                    raw = self._retr(num, size)
            except (poplib.error_proto, EOFError) as exc:
                yield uidl, Unreadable(f"POP3 error on this message: {_text(exc)}")
                self._reopen()
                continue
            yield uidl, raw

    def _retr(self, num, size):
        """RETR one message, its lines bounded by its size as LIST announced it."""
        self.client.max_line = max(POP3_MAX_LINE, size + 2)
        try:
            _resp, lines, _octets = self.client.retr(num)
        finally:
            self.client.max_line = POP3_MAX_LINE
        return b"\r\n".join(lines) + b"\r\n"

    def _top(self, num):
        """The header block of one message (TOP n 0), at most :data:`HEAD_BYTES` per line."""
        self.client.max_line = HEAD_BYTES
        try:
            _resp, lines, _octets = self.client.top(num, 0)
        finally:
            self.client.max_line = POP3_MAX_LINE
        return header_block(b"\r\n".join(lines) + b"\r\n\r\n")

    def _reopen(self):
        """After an error the session may be in the middle of a message: drop it without QUIT
        (so no deletion is committed; pending ones are applied again next run) and log in again."""
        with contextlib.suppress(OSError):
            self.client.close()
        try:
            self.client = self._open()
            self.login()
        except (poplib.error_proto, OSError) as exc:
            raise MailboxError(f"Reconnecting after a message error failed: {_text(exc)}") from exc
        self.open_folder()

    def handled(self, uidls, action, move_to=None):
        if action != "delete":
            return  # POP3 has no flags or folders: keep is all it can do otherwise.
        for uidl in uidls:
            if uidl in self._numbers:
                self.client.dele(self._numbers[uidl])

    def disconnect(self):
        self.client.quit()


def connect(
    protocol, host, port, user, password, security="none", verify_tls=True, timeout=TIMEOUT
):
    """Open and log in; raise :class:`MailboxError` or ``OSError`` on failure."""
    cls = ImapMailbox if protocol == "imap" else Pop3Mailbox
    try:
        return cls(host, port, user, password, security, verify_tls, timeout).login()
    except (imaplib.IMAP4.error, poplib.error_proto) as exc:
        raise MailboxError(str(exc)) from exc

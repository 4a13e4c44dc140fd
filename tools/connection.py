"""IMAP and POP3 mailboxes behind one small protocol, with no Odoo import.

Every mailbox offers ``open_folder``, ``pending``, ``retrieve``, ``handled``
and ``disconnect``. IMAP reads with ``BODY.PEEK[]`` so fetching never sets
``\\Seen``; flags change only when the caller says a message is handled,
which it does after its records are committed.

IMAP logins go through a caller's ``authenticate(client)`` when given: Odoo's
``fetchmail.server._imap_login__``, which OAuth modules override with XOAUTH2.
A password login may be told to avoid SASL mechanisms a server advertises but
breaks; it never changes how TLS is set up.

Reads are bounded per message, never by patching the protocol modules for
the whole process: sizes are asked first, a message above the caller's limit
is read as its header only, one IMAP round trip holds at most
:data:`BATCH_BYTES`, and a message the server cannot deliver is yielded as
:class:`Unreadable` so it fails alone instead of stopping its mailbox.
"""

import imaplib
import poplib
import re
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone

TIMEOUT = 60
BATCH_BYTES = 64 * 1024 * 1024  # bytes of messages one IMAP FETCH may return
POP3_CHUNK = 64 * 1024  # a long POP3 line is read in pieces of this size

_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID_RE = re.compile(rb"UID (\d+)")
_FETCH_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
_LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.+)$')

# SASL mechanisms a password login may use, best first; without any, the IMAP LOGIN command.
PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")
# Mechanisms an admin may ask to avoid (the SASL names servers advertise as AUTH=...).
KNOWN_MECHANISMS = frozenset(
    {"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "NTLM", "GSSAPI", "XOAUTH2", "OAUTHBEARER"}
)
# RFC 2971: at most 30 fields, names up to 30 octets, values up to 1024.
_ID_FIELD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$")
# RFC 6154 attributes the folder chooser uses; other LIST attributes are dropped.
SPECIAL_USE = frozenset(
    {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}
)
# XLIST (Gmail's older extension) spells some of them differently.
_XLIST_NAMES = {"\\AllMail": "\\All", "\\Spam": "\\Junk", "\\Starred": "\\Flagged"}


class MailboxError(Exception):
    """A protocol-level failure the caller reports on the mailbox."""


@dataclass(frozen=True)
class Unreadable:
    """A message the server would not deliver; yielded by ``retrieve`` in place of its bytes.

    ``header`` is its header block when the server gave that much, so it can be logged.
    """

    error: str
    header: bytes = b""


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uids: list  # IMAP: ints; POP3: UIDL strings


def parse_mechanisms(text):
    """The SASL mechanisms named in ``text`` (spaces or commas), upper case; ``ValueError``
    names the first unknown one."""
    names = [n.upper() for n in re.split(r"[\s,]+", text or "") if n]
    unknown = [n for n in names if n not in KNOWN_MECHANISMS]
    if unknown:
        raise ValueError(unknown[0])
    return tuple(dict.fromkeys(names))


def password_mechanism(capabilities, avoid):
    """How to log in with a password: a SASL mechanism for AUTHENTICATE, or ``None`` for
    the IMAP LOGIN command.

    Nothing avoided: the LOGIN command, as Odoo does. Otherwise the best advertised
    mechanism that is not avoided; servers such as Dovecot run the LOGIN command as
    PLAIN, so it is only the last resort, and refused when PLAIN and LOGIN are both avoided.
    """
    if not avoid:
        return None
    offered = {c[5:].upper() for c in capabilities if c.upper().startswith("AUTH=")}
    for name in PASSWORD_MECHANISMS:
        if name in offered and name not in avoid:
            return name
    if {"PLAIN", "LOGIN"} <= set(avoid):
        raise MailboxError(
            "Every password mechanism of this server is avoided "
            f"(it offers {', '.join(sorted(offered)) or 'none'})"
        )
    return None


def parse_imap_id(text):
    """``name=value`` pairs, one a line or separated by commas, as a tuple of pairs for the
    IMAP ID command (RFC 2971); ``ValueError`` says which entry is wrong."""
    pairs = []
    for entry in re.split(r"[\n,]+", text or ""):
        entry = entry.strip()
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _ID_FIELD_RE.match(key) or len(value) > 1024:
            raise ValueError(entry)
        if any(ord(c) < 32 or c in '"\\' for c in value):
            raise ValueError(entry)
        pairs.append((key, value))
    if len(pairs) > 30:
        raise ValueError(pairs[30][0])
    return tuple(pairs)


def imap_id_argument(pairs):
    """The parenthesised list the ID command sends (``NIL`` when empty)."""
    if not pairs:
        return "NIL"
    return "(" + " ".join(f'"{key}" "{value}"' for key, value in pairs) + ")"


def parse_list_line(line, xlist=False):
    """``(name, attributes)`` of one LIST (or XLIST) answer line, or ``None``."""
    match = _LIST_RE.match(line)
    if not match:
        return None
    name = match.group("name").strip()
    if name.startswith(b'"') and name.endswith(b'"'):
        name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
    attributes = match.group("flags").decode("ascii", "replace").split()
    if xlist:
        attributes = [_XLIST_NAMES.get(a, a) for a in attributes]
    return name.decode("utf-8", "replace"), frozenset(attributes)


def _tls_context(verify):
    if verify:
        return ssl.create_default_context()
    # Self-hosted servers commonly use self-signed certificates; the admin opts out.
    return ssl._create_unverified_context()  # noqa: S323


def _chunks_by_bytes(uids, sizes, budget):
    """Split ``uids`` into runs whose sizes add up to ``budget`` at most (one message at least)."""
    chunk, total = [], 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if chunk and total + size > budget:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        yield chunk


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


class _BoundedLines:
    """IMAP client whose longest response line is a limit of the session, not of the process.

    Message bodies arrive as literals, which imaplib reads by size; only lines such
    as a folder's ``SEARCH`` answer can be long (about 7 bytes per message).
    """

    max_line = 16 * 1024 * 1024

    def readline(self):
        line = self.file.readline(self.max_line + 1)
        if len(line) > self.max_line:
            raise self.error(f"got more than {self.max_line} bytes")
        return line


class _PasswordLogin:
    """IMAP client whose ``login`` avoids the SASL mechanisms the mailbox names.

    Odoo's ``_imap_login__`` calls ``login(user, password)``: the choice happens here,
    so an override of that seam keeps working.
    """

    avoid_mechanisms = ()

    def login(self, user, password):
        mechanism = password_mechanism(self.capabilities, self.avoid_mechanisms)
        if mechanism is None:
            return super().login(user, password)
        if mechanism == "PLAIN":
            return self.authenticate("PLAIN", lambda _challenge: f"\0{user}\0{password}")
        answers = iter((user, password))  # AUTH=LOGIN: the user, then the password
        return self.authenticate("LOGIN", lambda _challenge: next(answers, ""))


class _IMAP4(_PasswordLogin, _BoundedLines, imaplib.IMAP4):
    pass


class _IMAP4_SSL(_PasswordLogin, _BoundedLines, imaplib.IMAP4_SSL):
    pass


class ImapMailbox:
    """One IMAP session. ``security`` is ``none``, ``ssl`` or ``starttls``.

    ``avoid_mechanisms`` are SASL mechanisms a password login must not use; ``imap_id``
    is sent with the ID command (RFC 2971) right after logging in.
    """

    protocol = "imap"

    def __init__(
        self,
        host,
        port,
        user,
        password,
        security="none",
        verify_tls=False,
        timeout=TIMEOUT,
        avoid_mechanisms=(),
        imap_id=(),
    ):
        context = _tls_context(verify_tls)
        if security == "ssl":
            self.client = _IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
        else:
            self.client = _IMAP4(host, port, timeout=timeout)
            if security == "starttls":
                self.client.starttls(ssl_context=context)
        self.client.avoid_mechanisms = tuple(avoid_mechanisms)
        self.imap_id = tuple(imap_id)
        self.user, self.password = user, password
        self.selected = None
        # Folder -> its RFC 6154 special-use attributes, filled by list_folders().
        self.folder_flags = {}
        # UID -> when the server received it (INTERNALDATE, naive UTC), filled by retrieve().
        self.received = {}
        self.sizes = {}  # UID -> RFC822.SIZE, filled by retrieve()

    def login(self, authenticate=None):
        """Log in with ``authenticate(client)`` (Odoo's login seam), else with the password."""
        try:
            if authenticate is None:
                _check(*self.client.login(self.user, self.password), "LOGIN")
            else:
                authenticate(self.client)
            if self.client.state not in ("AUTH", "SELECTED"):
                raise MailboxError(f"LOGIN as {self.user} failed: not authenticated")
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"LOGIN as {self.user} failed: {_text(exc)}") from exc
        if self.imap_id:
            try:
                _check(*self.client.xatom("ID", imap_id_argument(self.imap_id)), "ID")
            except imaplib.IMAP4.error as exc:
                raise MailboxError(f"ID failed: {_text(exc)}") from exc
        return self

    def list_folders(self):
        """Sorted names of the selectable folders; their special-use attributes
        (``\\Sent``, ...) go to :attr:`folder_flags`."""
        # The capabilities after login (LIST-EXTENDED, SPECIAL-USE) differ from those before.
        typ, data = self.client.capability()
        capabilities = set((data[-1] or b"").decode("ascii", "replace").upper().split())
        xlist = False
        if {"LIST-EXTENDED", "SPECIAL-USE"} <= capabilities:
            typ, data = self.client._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
            typ, data = self.client._untagged_response(typ, data, "LIST")
        elif "XLIST" in capabilities:
            xlist = True
            typ, data = self.client.xatom("XLIST", '""', '"*"')
            typ, data = self.client._untagged_response(typ, data, "XLIST")
        else:
            typ, data = self.client.list()
        _check(typ, data, "LIST")
        self.folder_flags = {}
        for line in data:
            parsed = parse_list_line(line, xlist) if isinstance(line, bytes) else None
            if not parsed or parsed[1] & {"\\Noselect", "\\NonExistent"}:
                continue
            self.folder_flags[parsed[0]] = parsed[1] & SPECIAL_USE
        return sorted(self.folder_flags)

    def open_folder(self, path, after_uid=0, unread_only=False, upto_uid=0):
        """SELECT ``path``; return its UIDVALIDITY and the UIDs above ``after_uid``
        (up to ``upto_uid`` included, when given)."""
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
        criteria = [f"UID {after_uid + 1}:{upto_uid or '*'}"]
        if unread_only:
            criteria.append("UNSEEN")
        data = _check(*self.client.uid("SEARCH", *criteria), "UID SEARCH")
        # "n:*" always matches the last message, even below n.
        uids = sorted(
            u
            for u in (int(x) for x in (data[0] or b"").split())
            if u > after_uid and not (upto_uid and u > upto_uid)
        )
        return FolderState(uidvalidity, uids)

    def retrieve(self, uids, max_size=0):
        """Yield ``(uid, raw_bytes)``, or ``(uid, Unreadable)``, reading at most
        :data:`BATCH_BYTES` per round trip.

        A message larger than ``max_size`` bytes (0: no limit) is read as its header
        only; its size is in :attr:`sizes` either way.
        """
        if not uids:
            return
        sizes = self._sizes(uids)
        self.sizes.update(sizes)
        small = [u for u in uids if not (max_size and sizes.get(u, 0) > max_size)]
        large = [u for u in uids if u not in set(small)]
        for chunk in _chunks_by_bytes(small, sizes, BATCH_BYTES):
            yield from self._fetch(chunk, "BODY.PEEK[]")
        for uid in large:
            yield from self._fetch([uid], "BODY.PEEK[HEADER]")

    def _sizes(self, uids):
        """``{uid: RFC822.SIZE}`` of ``uids``, in one round trip."""
        typ, data = self.client.uid("FETCH", ",".join(str(u) for u in uids), "(UID RFC822.SIZE)")
        _check(typ, data, "UID FETCH RFC822.SIZE")
        sizes = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes):
                uid, size = _FETCH_UID_RE.search(line), _FETCH_SIZE_RE.search(line)
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    def _fetch(self, uids, part):
        """Fetch ``part`` of ``uids``; when the server refuses the batch, each message alone,
        so that one message it cannot deliver fails alone."""
        try:
            typ, data = self.client.uid(
                "FETCH", ",".join(str(u) for u in uids), f"(UID INTERNALDATE {part})"
            )
            _check(typ, data, "UID FETCH")
        except (MailboxError, imaplib.IMAP4.error) as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise  # the connection is gone: the mailbox run stops here
            if len(uids) > 1:
                for uid in uids:
                    yield from self._fetch([uid], part)
            else:
                yield uids[0], Unreadable(_text(exc), self._header_of(uids[0]))
            return
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                match = _FETCH_UID_RE.search(item[0])
                if match:
                    uid = int(match.group(1))
                    self.received[uid] = _internal_date(item[0])
                    yield uid, item[1]

    def _header_of(self, uid):
        """The header block of ``uid``, or ``b""`` when the server will not give that either."""
        try:
            typ, data = self.client.uid("FETCH", str(uid), "(UID BODY.PEEK[HEADER])")
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            return b""
        if typ != "OK":
            return b""
        return next((i[1] for i in data if isinstance(i, tuple) and len(i) == 2), b"")

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


class _SessionLost(poplib.error_proto):
    """The POP3 session lost its place in the server's answer: nothing more can be read."""


class _LongLines:
    """POP3 client reading lines of any length, in pieces, up to ``max_line`` bytes.

    poplib refuses lines over 2 KiB (``poplib._MAXLINE``) and then loses its place
    in the server's answer, which blocked the whole mailbox on one message with a
    long line. RFC 5322 allows 998 characters, real mail has longer ones.
    """

    max_line = 256 * 1024 * 1024

    def _getline(self):
        line = self.file.readline(POP3_CHUNK)
        if line and not line.endswith(b"\n") and len(line) >= POP3_CHUNK:
            parts, total = [line], len(line)
            while not parts[-1].endswith(b"\n"):
                piece = self.file.readline(POP3_CHUNK)
                if not piece:
                    break
                total += len(piece)
                if total > self.max_line:
                    raise _SessionLost(f"-ERR line longer than {self.max_line} bytes")
                parts.append(piece)
            line = b"".join(parts)
        if not line:
            raise _SessionLost("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class _POP3(_LongLines, poplib.POP3):
    pass


class _POP3_SSL(_LongLines, poplib.POP3_SSL):
    pass


class Pop3Mailbox:
    """One POP3 session; messages are told apart by UIDL, deletions happen at QUIT."""

    protocol = "pop"
    folder_flags = {}  # POP3 has one folder and no special uses

    def __init__(
        self, host, port, user, password, security="none", verify_tls=False, timeout=TIMEOUT
    ):
        context = _tls_context(verify_tls)
        if security == "ssl":
            self.client = _POP3_SSL(host, port, context=context, timeout=timeout)
        else:
            self.client = _POP3(host, port, timeout=timeout)
            if security == "starttls":
                self.client.stls(context=context)
        self.user, self.password = user, password
        self._numbers = {}
        self.sizes = {}  # UIDL -> size the server announced (LIST)

    def login(self):
        try:
            self.client.user(self.user)
            self.client.pass_(self.password)
        except poplib.error_proto as exc:
            raise MailboxError(f"LOGIN as {self.user} failed: {_text(exc)}") from exc
        return self

    def list_folders(self):
        return ["INBOX"]

    def open_folder(self, path="INBOX", after_uid=0, unread_only=False, upto_uid=0):
        """POP3 has one folder and no UID order: every UIDL on the server is returned."""
        _resp, lines, _octets = self.client.uidl()
        self._numbers, self.sizes = {}, {}
        for line in lines:
            num, uidl = line.decode("ascii", "replace").split(None, 1)
            self._numbers[uidl] = int(num)
        return FolderState(0, list(self._numbers))

    def retrieve(self, uidls, max_size=0):
        """Yield ``(uidl, raw_bytes)``, or ``(uidl, Unreadable)`` when the server refuses one.

        A message larger than ``max_size`` bytes (0: no limit) is read as its header only
        (``TOP n 0``).
        """
        if uidls and not self.sizes:
            _resp, lines, _octets = self.client.list()
            by_number = {}
            for line in lines:
                num, _sep, size = line.decode("ascii", "replace").partition(" ")
                if num.isdigit() and size.strip().isdigit():
                    by_number[int(num)] = int(size.strip())
            self.sizes = {u: by_number.get(n, 0) for u, n in self._numbers.items()}
        for uidl in uidls:
            num = self._numbers.get(uidl)
            if num is None:
                continue
            large = max_size and self.sizes.get(uidl, 0) > max_size
            try:
                if large:
                    _resp, lines, _octets = self.client.top(num, 0)
                else:
                    _resp, lines, _octets = self.client.retr(num)
            except _SessionLost as exc:
                raise MailboxError(f"RETR {num} failed: {_text(exc)}") from exc
            except poplib.error_proto as exc:
                # The server answered -ERR for this message only; the session goes on.
                yield uidl, Unreadable(_text(exc), self._header_of(num))
                continue
            # Byte-stuffed lines (RFC 1939) are already unstuffed by poplib.
            yield uidl, b"\r\n".join(lines) + b"\r\n"

    def _header_of(self, num):
        """The header block of message ``num``, or ``b""`` when the server refuses it too."""
        try:
            _resp, lines, _octets = self.client.top(num, 0)
        except _SessionLost:
            raise
        except poplib.error_proto:
            return b""
        return b"\r\n".join(lines) + b"\r\n"

    def handled(self, uidls, action, move_to=None):
        if action != "delete":
            return  # POP3 has no flags or folders: keep is all it can do otherwise.
        for uidl in uidls:
            if uidl in self._numbers:
                self.client.dele(self._numbers[uidl])

    def disconnect(self):
        self.client.quit()


def connect(
    protocol,
    host,
    port,
    user,
    password,
    security="none",
    verify_tls=False,
    timeout=TIMEOUT,
    authenticate=None,
    avoid_mechanisms=(),
    imap_id=(),
):
    """Open and log in; raise :class:`MailboxError` or ``OSError`` on failure.

    IMAP only: ``authenticate(client)`` logs the imaplib client in (Odoo's
    ``_imap_login__``), ``avoid_mechanisms`` and ``imap_id`` as :class:`ImapMailbox`.
    """
    try:
        if protocol == "imap":
            mailbox = ImapMailbox(
                host, port, user, password, security, verify_tls, timeout, avoid_mechanisms, imap_id
            )
            return mailbox.login(authenticate)
        return Pop3Mailbox(host, port, user, password, security, verify_tls, timeout).login()
    except (imaplib.IMAP4.error, poplib.error_proto) as exc:
        raise MailboxError(str(exc)) from exc

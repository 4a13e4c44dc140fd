"""IMAP IDLE (RFC 2177) on top of imaplib, and a watcher for one folder, with no Odoo import.

Python's imaplib has no IDLE. :class:`IdleSession` adds it to a logged-in
``imaplib.IMAP4``: ``start`` sends IDLE, ``wait`` returns the untagged lines
that arrive within a timeout, ``done`` ends it. :func:`watch_folder` keeps one
connection on one folder and calls back when a message arrives (``EXISTS``
above the known count); it re-issues IDLE before the server's 30-minute
limit, reconnects with backoff, polls with NOOP when the server has no IDLE,
and returns when its stop event is set. It only reports: what a new message
becomes is the caller's business.
"""

import contextlib
import random
import re
import select
import ssl
import time

# RFC 2177: a server may log out a client idle for 30 minutes; re-issue well before 29.
IDLE_REISSUE_SECONDS = 25 * 60
POLL_SECONDS = 30  # NOOP interval on a server without IDLE
STEP_SECONDS = 0.5  # how often a wait looks at its stop event
BACKOFF_FIRST_SECONDS = 1
BACKOFF_MAX_SECONDS = 300
STATE_WATCHING = "watching"  # IDLE
STATE_POLLING = "polling"  # no IDLE on the server: NOOP every POLL_SECONDS
STATE_RECONNECTING = "reconnecting"
STATE_STOPPED = "stopped"

_EXISTS_RE = re.compile(rb"^\* (\d+) EXISTS\b", re.IGNORECASE)
_EXPUNGE_RE = re.compile(rb"^\* (\d+) EXPUNGE\b", re.IGNORECASE)
_TAG = b"MCIDLE"


class IdleError(Exception):
    """The server refused IDLE or closed the session."""


def backoff_seconds(attempt, first=BACKOFF_FIRST_SECONDS, cap=BACKOFF_MAX_SECONDS, jitter=0.1):
    """Seconds to wait before reconnection ``attempt`` (1, 2, ...): doubling, capped, with jitter
    so that many watchers of one server do not reconnect in the same second."""
    delay = min(first * 2 ** max(attempt - 1, 0), cap)
    return delay * (1 + random.uniform(0, jitter))  # noqa: S311 - spreading, not secrecy


def count_after(lines, count):
    """The folder's message count after the untagged ``lines``, and whether it grew.

    ``EXISTS`` gives the count; each ``EXPUNGE`` lowers it by one, so a message moved
    away by the fetch is never taken for a new one.
    """
    grew = False
    for line in lines:
        if _EXPUNGE_RE.match(line):
            count = max(count - 1, 0)
            continue
        match = _EXISTS_RE.match(line)
        if match:
            exists = int(match.group(1))
            grew = grew or exists > count
            count = exists
    return count, grew


def capabilities(client):
    """The capabilities the server announces now (after login they may differ from the greeting's)."""
    typ, data = client.capability()
    if typ != "OK" or not data or not data[-1]:
        return set(client.capabilities)
    return set(data[-1].decode("ascii", "replace").upper().split())


def unbuffer(client):
    """Read ``client`` unbuffered, so that waiting on its socket never misses a line already read.

    Call right after login: in the authenticated state the server sends nothing
    unasked, so imaplib's buffer is empty and nothing is lost by dropping it.
    """
    client.file.close()
    client.file = client.sock.makefile("rb", buffering=0)


class IdleSession:
    """One IDLE command on a logged-in client with a folder selected (``unbuffer`` it first)."""

    def __init__(self, client, clock=time.monotonic):
        self.client = client
        self.clock = clock
        self.tag = None

    def _readline(self):
        line = self.client.readline()
        if not line:
            raise IdleError("the server closed the connection")
        return line.rstrip(b"\r\n")

    def _readable(self, timeout):
        sock = self.client.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True  # decrypted bytes the socket itself no longer signals
        readable, _w, _x = select.select([sock], [], [], max(timeout, 0))
        return bool(readable)

    def start(self):
        """Send IDLE; return the untagged lines the server sent before accepting it."""
        self.tag = _TAG + str(int(self.clock() * 1000) % 10**9).encode()
        self.client.send(self.tag + b" IDLE\r\n")
        lines = []
        while True:
            line = self._readline()
            if line.startswith(b"+"):
                return lines
            if line.startswith(self.tag):
                raise IdleError(f"IDLE refused: {line.decode('utf-8', 'replace')}")
            lines.append(line)

    def wait(self, timeout):
        """The untagged lines that arrive within ``timeout`` seconds (``[]`` when none did)."""
        deadline = self.clock() + timeout
        lines = []
        while self._readable(deadline - self.clock() if not lines else 0):
            line = self._readline()
            if line.startswith(b"* BYE"):
                raise IdleError(line.decode("utf-8", "replace"))
            lines.append(line)
        return lines

    def done(self):
        """End IDLE; return the untagged lines that came before the server's answer."""
        self.client.send(b"DONE\r\n")
        lines = []
        while True:
            line = self._readline()
            if line.startswith(self.tag):
                if not line[len(self.tag) :].strip().upper().startswith(b"OK"):
                    raise IdleError(f"IDLE ended badly: {line.decode('utf-8', 'replace')}")
                return lines
            lines.append(line)


def _examine(client, folder):
    """Open ``folder`` read-only (no \\Recent or \\Seen changes); return its message count."""
    quoted = '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
    typ, data = client.select(quoted, readonly=True)
    if typ != "OK":
        raise IdleError(f"EXAMINE {folder} failed: {data!r}")
    client.untagged_responses.clear()
    return int(data[0] or 0)


def _idle(client, count, on_new, stop, reissue, clock):
    """IDLE on the open folder until ``stop`` is set; re-issue every ``reissue`` seconds."""
    while not stop.is_set():
        session = IdleSession(client, clock)
        count, grew = count_after(session.start(), count)
        if grew:
            on_new()
        deadline = clock() + reissue
        while not stop.is_set() and clock() < deadline:
            count, grew = count_after(session.wait(min(STEP_SECONDS, deadline - clock())), count)
            if grew:
                on_new()
        count, grew = count_after(session.done(), count)
        if grew:
            on_new()


def _poll(client, count, on_new, stop, poll):
    """Ask with NOOP every ``poll`` seconds until ``stop`` is set (servers without IDLE)."""
    while not stop.wait(poll):
        typ, data = client.noop()
        if typ != "OK":
            raise IdleError(f"NOOP failed: {data!r}")
        lines = [b"* %s EXPUNGE" % n for n in client.untagged_responses.pop("EXPUNGE", [])] + [
            b"* %s EXISTS" % n for n in client.untagged_responses.pop("EXISTS", [])
        ]
        client.untagged_responses.clear()
        count, grew = count_after(lines, count)
        if grew:
            on_new()


def _close(client):
    with contextlib.suppress(Exception):
        client.logout()
    with contextlib.suppress(Exception):
        client.shutdown()


def watch_folder(
    connect,
    folder,
    on_new,
    stop,
    on_state=None,
    reissue=IDLE_REISSUE_SECONDS,
    poll=POLL_SECONDS,
    clock=time.monotonic,
):
    """Watch ``folder`` until the ``stop`` event is set.

    ``connect()`` returns a logged-in ``imaplib.IMAP4``; ``on_new()`` is called when
    messages arrive, and once after each reconnection (mail may have come meanwhile);
    ``on_state(state, error)`` is told each state (``STATE_*``) as it is entered.
    """
    on_state = on_state or (lambda state, error: None)
    attempt, connected_before = 0, False
    while not stop.is_set():
        client = None
        try:
            client = connect()
            unbuffer(client)
            idle = "IDLE" in capabilities(client)
            count = _examine(client, folder)
            on_state(STATE_WATCHING if idle else STATE_POLLING, "")
            attempt = 0
            if connected_before:
                on_new()
            connected_before = True
            if idle:
                _idle(client, count, on_new, stop, reissue, clock)
            else:
                _poll(client, count, on_new, stop, poll)
        except Exception as exc:  # noqa: BLE001 - any failure means: reconnect later
            if stop.is_set():
                break
            attempt += 1
            on_state(STATE_RECONNECTING, str(exc) or type(exc).__name__)
            _close(client)
            client = None
            stop.wait(backoff_seconds(attempt))
        finally:
            if client is not None:
                _close(client)
    on_state(STATE_STOPPED, "")

"""Read mail archives (.eml, .mbox, .zip of .eml) one message at a time. No Odoo import.

Archives can be far larger than memory (a 2 GB mbox export), so nothing here
reads a whole file: the mbox is scanned line by line from a byte offset, a zip
is read entry by entry through its central directory. Each message carries
its position, so an interrupted import resumes where it stopped.

mbox is split as the standard library's :mod:`mailbox` module splits it (a
message starts at each line beginning with ``From ``; the blank line before it
is the separator), and both escapings are undone: mboxo (``>From `` for
``From ``) and mboxrd (one ``>`` less on every ``>…>From `` line). The stdlib
escapes when it writes but not when it reads, and :class:`mailbox.mbox`
indexes the whole file before returning its first message, with no way to
start at an offset: every resumed batch would rescan gigabytes. The unit tests
read back what the stdlib writes.
"""

import itertools
import os
import re
import zipfile
from dataclasses import dataclass

# Larger single messages are reported, not read: mail servers refuse them long before.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
# Read at most this much per line, so a file with no line breaks never fills memory.
_LINE_LIMIT = 1024 * 1024
_CHUNK = 1024 * 1024
_FIELD_RE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_MAIL_EXTENSIONS = (".eml", ".msg822", ".mai")
KINDS = ("eml", "mbox", "zip")


@dataclass(frozen=True)
class Entry:
    """One message of an archive, or the reason it cannot be read."""

    index: int  # 0-based position in the archive
    name: str  # zip entry name, or "message N" in an mbox
    raw: bytes | None = None
    error: str = ""  # why ``raw`` is missing or is not an email
    next_offset: int = 0  # mbox: where the next message starts (the resume point)


class ArchiveError(Exception):
    """The archive as a whole cannot be read (not a zip, unreadable file)."""


def detect_kind(filename, head):
    """``eml``, ``mbox`` or ``zip`` from the file name, else from its first bytes; None if neither."""
    name = (filename or "").lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".mbox", ".mbx", ".mbs")) or os.path.basename(name) == "mbox":
        return "mbox"
    if name.endswith(_MAIL_EXTENSIONS):
        return "eml"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"From "):
        return "mbox"
    if _FIELD_RE.match(head.lstrip()[:200]):
        return "eml"
    return None


def email_problem(raw):
    """Why ``raw`` is not an email (empty, or no header line first), or "" when it looks like one."""
    text = raw.lstrip(b"\r\n\t ")
    if not text:
        return "empty file"
    first = text.split(b"\n", 1)[0]
    if not _FIELD_RE.match(first):
        return "not an email: it does not start with a header line"
    return ""


def _strip_envelope(raw):
    """Drop a UTF-8 byte order mark, and an mbox ``From `` envelope line some clients leave
    at the top of an .eml."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if raw.startswith(b"From "):
        return raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


# -- counting (cheap, before the import starts) -------------------------------
def count_messages(fileobj, kind):
    """``(messages, ignored)``: how many messages the archive holds and how many zip entries are not mail."""
    if kind == "eml":
        return 1, 0
    if kind == "zip":
        with _open_zip(fileobj) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            mail = [i for i in infos if is_mail_entry(i.filename)]
            return len(mail), len(infos) - len(mail)
    fileobj.seek(0)
    count, tail, first = 0, b"", True
    while chunk := fileobj.read(_CHUNK):
        if first:
            count += chunk.startswith(b"From ")
            first = False
        data = tail + chunk
        count += data.count(b"\nFrom ")
        # Keep the last bytes so a separator split across two chunks counts once.
        tail = data[-5:]
        count -= tail.count(b"\nFrom ")
    return count + tail.count(b"\nFrom "), 0


def is_mail_entry(name):
    """Whether a zip entry holds an email (``.eml``), not a folder or macOS metadata."""
    base = name.rsplit("/", 1)[-1]
    return (
        not name.endswith("/")
        and not name.startswith("__MACOSX/")
        and not base.startswith("._")
        and base.lower().endswith(_MAIL_EXTENSIONS)
    )


# -- reading ------------------------------------------------------------------
def iter_entries(fileobj, kind, start_index=0, start_offset=0, max_size=MAX_MESSAGE_SIZE):
    """Yield the archive's :class:`Entry` objects from ``start_index`` (and ``start_offset`` for mbox)."""
    if kind == "mbox":
        yield from iter_mbox(fileobj, start_index, start_offset, max_size)
    elif kind == "zip":
        yield from iter_zip(fileobj, start_index, max_size)
    elif kind == "eml":
        if start_index == 0:
            raw = fileobj.read(max_size + 1)
            yield _entry(0, "message", _strip_envelope(raw), max_size)
    else:
        raise ArchiveError(f"unknown archive kind {kind!r}")


def _too_large(index, name, max_size, next_offset=0):
    return Entry(index, name, error=f"larger than {max_size // 2**20} MB", next_offset=next_offset)


def _entry(index, name, raw, max_size, next_offset=0):
    """The entry of ``raw``, with the reason when it is too large or not an email."""
    if len(raw) > max_size:
        return _too_large(index, name, max_size, next_offset)
    problem = email_problem(raw)
    return Entry(index, name, raw, problem, next_offset)


def _unescape(line):
    """mboxrd and mboxo: ``>From `` becomes ``From ``, ``>>From `` becomes ``>From ``."""
    if line[:1] == b">" and line.lstrip(b">").startswith(b"From "):
        return line[1:]
    return line


def iter_mbox(fileobj, start_index=0, start_offset=0, max_size=MAX_MESSAGE_SIZE):
    """Messages of an mbox file from the ``From `` line at ``start_offset``, read line by line."""
    fileobj.seek(start_offset)
    index = start_index
    lines, size, started, at_line_start = [], 0, False, True
    position = start_offset
    while True:
        line = fileobj.readline(_LINE_LIMIT)
        is_separator = at_line_start and line.startswith(b"From ")
        if (is_separator or not line) and started:
            if lines and lines[-1] in (b"\n", b"\r\n"):
                lines.pop()  # the blank line that separates messages
            name = f"message {index + 1}"
            if size > max_size:
                yield _too_large(index, name, max_size, next_offset=position)
            else:
                yield _entry(index, name, b"".join(lines), max_size, next_offset=position)
            index += 1
            lines, size = [], 0
        if not line:
            return
        if is_separator:
            started = True
        elif started:
            size += len(line)
            if size <= max_size:
                lines.append(_unescape(line) if at_line_start else line)
        at_line_start = line.endswith(b"\n")
        position += len(line)


def _open_zip(fileobj):
    try:
        return zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"not a readable zip file: {exc}") from exc


def iter_zip(fileobj, start_index=0, max_size=MAX_MESSAGE_SIZE):
    """The ``.eml`` entries of a zip, in archive order, each read on its own."""
    with _open_zip(fileobj) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir() and is_mail_entry(i.filename)]
        for index in range(start_index, len(infos)):
            info = infos[index]
            if info.file_size > max_size:
                yield _too_large(index, info.filename, max_size)
                continue
            try:
                with archive.open(info) as member:
                    raw = member.read(max_size + 1)
            except Exception as exc:  # noqa: BLE001 - bad CRC, corrupt data, encryption: this entry only
                yield Entry(index, info.filename, error=f"unreadable: {exc}")
                continue
            yield _entry(index, info.filename, _strip_envelope(raw), max_size)


class ArchiveReader:
    """An open archive read in batches: it remembers where the next message starts.

    One reader serves the consecutive batches of one import run, so a zip's
    directory is read once per run and an mbox is never read twice.
    """

    def __init__(self, fileobj, kind, index=0, offset=0, max_size=MAX_MESSAGE_SIZE):
        self.fileobj = fileobj
        self.index, self.offset = index, offset
        self.exhausted = False
        self._entries = iter_entries(fileobj, kind, index, offset, max_size)

    def take(self, count):
        """The next ``count`` entries at most; ``exhausted`` tells when the archive is over."""
        taken = 0
        for entry in itertools.islice(self._entries, count):
            taken += 1
            self.index, self.offset = entry.index + 1, entry.next_offset
            yield entry
        if taken < count:
            self.exhausted = True

    def close(self):
        self._entries.close()
        self.fileobj.close()

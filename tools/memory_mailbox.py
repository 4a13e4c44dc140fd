"""An IMAP-like mailbox held in memory, behind the same protocol as :mod:`.connection`.

It serves the tests of the pipeline, the rules and the matching, which need
no real mail server, and any caller that feeds the pipeline from elsewhere
than IMAP or POP3. The protocol layer itself is tested against Dovecot.
"""

import itertools

from .connection import FolderState, MailboxError

_validity = itertools.count(1000)


class MemoryFolder:
    def __init__(self):
        self.uidvalidity = next(_validity)
        self.next_uid = 1
        self.messages = {}  # uid -> [raw, set of flags]

    def add(self, raw, flags=()):
        uid = self.next_uid
        self.next_uid += 1
        self.messages[uid] = [raw, set(flags)]
        return uid


class MemoryAccount:
    """One account's folders; shared by every session opened on it."""

    def __init__(self, user, password):
        self.user, self.password = user, password
        self.folders = {"INBOX": MemoryFolder()}
        self.logins = 0  # sessions that logged in, so tests can assert none happened

    def folder(self, path, create=False):
        if path not in self.folders:
            if not create:
                raise MailboxError(f"SELECT {path} failed: Mailbox doesn't exist: {path}")
            self.folders[path] = MemoryFolder()
        return self.folders[path]

    def append(self, raw, path="INBOX", flags=()):
        return self.folder(path, create=True).add(raw, flags)

    def flags(self, path="INBOX"):
        """``{uid: set of flags}`` of a folder, as a test reads them."""
        return {uid: set(flags) for uid, (_raw, flags) in self.folder(path).messages.items()}


class MemoryMailbox:
    """A session on a :class:`MemoryAccount`, with the interface of ``ImapMailbox``."""

    protocol = "imap"

    folder_flags = {}  # no special-use attributes in memory

    def __init__(self, account, user, password):
        self.account, self.user, self.password = account, user, password
        self.selected = None
        self.sizes = {}

    def login(self):
        if self.user != self.account.user or self.password != self.account.password:
            raise MailboxError(
                f"LOGIN as {self.user} failed: [AUTHENTICATIONFAILED] Authentication failed."
            )
        self.account.logins += 1
        return self

    def list_folders(self):
        return sorted(self.account.folders)

    def open_folder(self, path, after_uid=0, unread_only=False, upto_uid=0):
        folder = self.account.folder(path)
        self.selected = folder
        uids = sorted(
            uid
            for uid, (_raw, flags) in folder.messages.items()
            if uid > after_uid
            and not (upto_uid and uid > upto_uid)
            and not (unread_only and "\\Seen" in flags)
        )
        return FolderState(folder.uidvalidity, uids)

    def retrieve(self, uids, max_size=0):
        """As ``ImapMailbox.retrieve``: a message above ``max_size`` bytes gives its header only."""
        for uid in uids:
            if uid in self.selected.messages:
                raw = self.selected.messages[uid][0]
                self.sizes[uid] = len(raw)
                if max_size and len(raw) > max_size:
                    end = raw.find(b"\r\n\r\n")
                    raw = raw[: end + 4] if end >= 0 else raw[:max_size]
                yield uid, raw

    def handled(self, uids, action, move_to=None):
        messages = self.selected.messages
        for uid in uids:
            if uid not in messages or action == "keep":
                continue
            if action == "seen":
                messages[uid][1].add("\\Seen")
            elif action == "move":
                if not move_to:
                    raise MailboxError("No target folder to move to")
                raw, flags = messages.pop(uid)
                self.account.folder(move_to).add(raw, flags)
            elif action == "delete":
                messages.pop(uid)
            else:
                raise MailboxError(f"Unknown after-action {action!r}")

    def disconnect(self):
        self.selected = None

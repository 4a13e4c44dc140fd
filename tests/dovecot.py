"""A throw-away Dovecot (IMAP + POP3, plain and TLS) on loopback.

Pure Python with no Odoo import, so the run script, the benchmark and the
tests share one way of starting the real mail server::

    python3 tests/dovecot.py start --dir /tmp/mc-dovecot --port-base 14100

Ports are ``base+43`` (IMAP), ``base+93`` (IMAPS), ``base+10`` (POP3) and
``base+95`` (POP3S). Every user's password is its login.

With ``oauth2_url`` (an RFC 7662 introspection endpoint, see ``oauth_idp.py``),
it also accepts XOAUTH2 and OAUTHBEARER logins whose bearer token that endpoint
says is active for the user. Sent folders carry the RFC 6154 ``\\Sent`` flag.
"""

import argparse
import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
# Dovecot refuses to run its login processes as root.
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
auth_verbose = yes
# "support@company.example" and "support" are one account (a mailbox address as login).
auth_username_format = %Ln
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
mail_location = maildir:~/Maildir
mail_uid = dovecot
mail_gid = dovecot
pop3_uidl_format = %08Xu%08Xv
imap_capability = +MOVE UIDPLUS
imap_id_log = *
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox "Sent Items" {{
    special_use = \\Sent
  }}
  mailbox "[Gmail]/Sent Mail" {{
    special_use = \\Sent
  }}
  mailbox "[Gmail]/All Mail" {{
    special_use = \\All
  }}
  mailbox Verschickt {{
    special_use = \\Sent
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {dir}/users
}}
{oauth_passdb}userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf
}}
"""

# RFC 7662: Dovecot POSTs the bearer token and trusts "active" and "username".
OAUTH_CONFIG = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"""


def _quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DovecotError(RuntimeError):
    pass


class Dovecot:
    """Start, seed and stop one private Dovecot instance."""

    def __init__(self, directory, port_base=14100, users=("support", "sales"), oauth2_url=None):
        self.dir = os.path.abspath(directory)
        self.oauth2_url = oauth2_url
        self.port_base = port_base
        self.users = list(users)
        self.imap_port = port_base + 43
        self.imaps_port = port_base + 93
        self.pop3_port = port_base + 10
        self.pop3s_port = port_base + 95
        self.host = "127.0.0.1"

    # -- lifecycle -----------------------------------------------------
    @property
    def binary(self):
        path = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(path):
            raise DovecotError(
                "Dovecot is not installed: apt-get install dovecot-imapd dovecot-pop3d"
            )
        return path

    @property
    def config_path(self):
        return os.path.join(self.dir, "dovecot.conf")

    def start(self):
        binary = self.binary
        self.stop()
        os.makedirs(os.path.join(self.dir, "mail"), exist_ok=True)
        # Dovecot's unprivileged processes must traverse the directory.
        os.chmod(self.dir, 0o755)
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self._make_certificate()
        with open(os.path.join(self.dir, "users"), "w") as fh:
            fh.writelines(f"{user}:{{PLAIN}}{user}::::::\n" for user in self.users)
        if self.oauth2_url:
            with open(os.path.join(self.dir, "oauth2.conf"), "w") as fh:
                fh.write(OAUTH_CONFIG.format(url=self.oauth2_url))
        with open(self.config_path, "w") as fh:
            fh.write(
                CONFIG.format(
                    dir=self.dir,
                    oauth_mechanisms=" xoauth2 oauthbearer" if self.oauth2_url else "",
                    oauth_passdb=OAUTH_PASSDB.format(dir=self.dir) if self.oauth2_url else "",
                    imap=self.imap_port,
                    imaps=self.imaps_port,
                    pop3=self.pop3_port,
                    pop3s=self.pop3s_port,
                )
            )
        self._chown_mail()
        subprocess.run([binary, "-c", self.config_path], check=True)
        self._wait_listening()
        return self

    def stop(self):
        pidfile = os.path.join(self.dir, "run", "master.pid")
        if not os.path.exists(pidfile):
            return
        with open(pidfile) as fh:
            pid = int(fh.read().strip() or 0)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            for _i in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pidfile)

    def _make_certificate(self):
        cert = os.path.join(self.dir, "cert.pem")
        if os.path.exists(cert):
            return
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=localhost",
                "-keyout",
                os.path.join(self.dir, "key.pem"),
                "-out",
                cert,
            ],
            check=True,
            capture_output=True,
        )

    def _chown_mail(self):
        entry = pwd.getpwnam("dovecot")
        for root, dirs, files in os.walk(os.path.join(self.dir, "mail")):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.chown(name, entry.pw_uid, entry.pw_gid)
        os.chown(os.path.join(self.dir, "mail"), entry.pw_uid, entry.pw_gid)

    def _wait_listening(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.imap_port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise DovecotError(
            f"Dovecot did not listen on {self.imap_port}; see {self.dir}/dovecot.log"
        )

    def log_lines(self, needle="", start=0):
        """Lines of Dovecot's log containing ``needle``, from line ``start`` on."""
        with (
            contextlib.suppress(FileNotFoundError),
            open(os.path.join(self.dir, "dovecot.log")) as fh,
        ):
            return [line for line in list(fh)[start:] if needle in line]
        return []

    # -- mailbox helpers (real IMAP commands) --------------------------
    def imap(self, user):
        client = imaplib.IMAP4(self.host, self.imap_port)
        client.login(user, user)
        return client

    def reset_user(self, user):
        """Delete every folder and message of ``user``."""
        shutil.rmtree(os.path.join(self.dir, "mail", user), ignore_errors=True)

    def delete_folder(self, user, folder):
        client = self.imap(user)
        try:
            client.delete(_quote(folder))
        finally:
            client.logout()

    def create_folder(self, user, folder):
        client = self.imap(user)
        try:
            client.create(_quote(folder))
        finally:
            client.logout()

    def append(self, user, raw, folder="INBOX", flags="", date_time=None):
        """APPEND ``raw`` to ``folder`` (received at ``date_time``, a datetime); return the new UID."""
        if isinstance(raw, str):
            raw = raw.encode()
        client = self.imap(user)
        try:
            typ, data = client.append(folder, flags, date_time, raw)
            if typ != "OK":
                raise DovecotError(f"APPEND failed: {data!r}")
            # Dovecot answers [APPENDUID <validity> <uid>]
            text = data[0].decode()
            if "APPENDUID" in text:
                return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))
            return None
        finally:
            client.logout()

    def append_many(self, user, raws, folder="INBOX"):
        """APPEND many messages over one connection (seeding, benchmarks)."""
        client = self.imap(user)
        try:
            if folder != "INBOX":
                client.create(_quote(folder))
            for raw in raws:
                typ, data = client.append(_quote(folder), "", None, raw)
                if typ != "OK":
                    raise DovecotError(f"APPEND failed: {data!r}")
        finally:
            client.logout()

    def messages(self, user, folder="INBOX"):
        """Return ``{uid: set(flags)}`` for ``folder`` (read-only SELECT)."""
        client = self.imap(user)
        try:
            typ, _data = client.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return {}
            typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
            result = {}
            for item in data or []:
                if not item:
                    continue
                text = item.decode() if isinstance(item, bytes) else item[0].decode()
                uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                flags = text.split("FLAGS (", 1)[1].split(")", 1)[0].split()
                result[uid] = set(flags)
            return result
        finally:
            client.logout()

    def uidvalidity(self, user, folder="INBOX"):
        client = self.imap(user)
        try:
            typ, data = client.status(f'"{folder}"', "(UIDVALIDITY)")
            return int(data[0].decode().split("UIDVALIDITY", 1)[1].strip(" )"))
        finally:
            client.logout()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port-base", type=int, default=14100)
    parser.add_argument("--user", action="append", dest="users")
    args = parser.parse_args(argv)
    server = Dovecot(args.dir, args.port_base, args.users or ("support", "sales"))
    try:
        if args.action == "start":
            server.start()
            sys.stdout.write(
                f"Dovecot on 127.0.0.1: IMAP {server.imap_port}, IMAPS {server.imaps_port}, "
                f"POP3 {server.pop3_port}, POP3S {server.pop3s_port}\n"
            )
        else:
            server.stop()
    except (DovecotError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"dovecot: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

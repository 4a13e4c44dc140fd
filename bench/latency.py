"""Benchmark: seconds from a message reaching the mail server to its ticket being committed.

Three ways in, on one database and one real Dovecot on loopback, with a real
Odoo server (threaded, cron workers) and the real listener process:

* ``polling``: the mail scheduler every minute (Odoo's fastest cron; its default is 5);
* ``idle``: Instant delivery, ``odoo-bin mail_converter_idle`` triggering the job;
* ``pipe``: ``scripts/mail_converter_mailgate.py`` fed by a shell pipe, as Postfix does.

Then the cost of ``--idle-mailboxes`` quiet watched mailboxes: IMAP and PostgreSQL
connections, the listener's memory, and database rows written per hour.

    python bench/latency.py --db DB --odoo-args '["--db_host=...", "--addons-path=..."]'

``DB`` is a scratch database with mail_converter installed; its mailboxes are archived.
``bash bench/run.sh latency`` runs it on a fresh database.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))

from dovecot import Dovecot  # noqa: E402

MAILGATE = os.path.join(REPO, "scripts", "mail_converter_mailgate.py")
SECRET = "bench-pipe-secret"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def email(subject):
    msg = EmailMessage()
    msg["From"] = "Alice Customer <alice@customer.example>"
    msg["To"] = "support@company.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="customer.example")
    msg.set_content("Hello,\nthe printer is on fire.\n")
    return msg.as_bytes()


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(int(round(share * (len(ordered) - 1))), len(ordered) - 1)]


class Bench:
    def __init__(self, args):
        self.args = args
        self.odoo_args = json.loads(args.odoo_args)
        from odoo.modules.registry import Registry
        from odoo.tools import config

        config.parse_config(self.odoo_args)
        self.registry = Registry(args.db)
        self.procs = []

    # -- database helpers ---------------------------------------------------------------
    def env_do(self, func):
        from odoo import SUPERUSER_ID, api

        with self.registry.cursor() as cr:
            return func(api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True}))

    def raw_conn(self):
        import psycopg2

        from odoo.sql_db import connection_info_for

        conn = psycopg2.connect(**connection_info_for(self.args.db)[1])
        conn.autocommit = True
        return conn

    # -- processes ------------------------------------------------------------------------
    def spawn(self, extra, name):
        log = open(os.path.join(self.tmp, f"{name}.log"), "w")  # noqa: SIM115 - lives with the process
        addons = [a for a in self.odoo_args if a.startswith("--addons-path")]
        rest = [a for a in self.odoo_args if not a.startswith("--addons-path")]
        command = [
            sys.executable,
            "-m",
            "odoo",
            *addons,
            *extra[:1],
            *rest,
            "-d",
            self.args.db,
            *extra[1:],
        ]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_odoo(self):
        self.http_port = free_port()
        proc = self.spawn(
            [
                "server",
                f"--db-filter=^{self.args.db}$",
                "--http-interface=127.0.0.1",
                f"--http-port={self.http_port}",
                "--max-cron-threads=2",
                "--workers=0",
                f"--log-level={self.args.server_log_level}",
            ],
            "odoo",
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.http_port), 0.5).close()
                return proc
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("Odoo did not start; see odoo.log")

    def start_listener(self):
        return self.spawn(
            ["mail_converter_idle", "--rescan-interval=5", "--log-level=warn"], "listener"
        )

    # -- measuring ----------------------------------------------------------------------
    def observe(self, sent, timeout, feeder):
        """Watch for the tickets of ``sent`` ({subject: time appended}) while ``feeder`` appends,
        then up to ``timeout`` seconds more; return the latencies in seconds and how many
        never came."""
        conn = self.raw_conn()
        seen, deadline = {}, None
        while True:
            if not feeder.is_alive():
                deadline = deadline or time.monotonic() + timeout
                if len(seen) >= len(sent) or time.monotonic() > deadline:
                    break
            pending = [s for s in list(sent) if s not in seen]
            if pending:
                with conn.cursor() as cur:
                    cur.execute("SELECT name FROM helpdesk_ticket WHERE name = ANY(%s)", (pending,))
                    now = time.monotonic()
                    for (name,) in cur.fetchall():
                        seen[name] = now - sent[name]
            time.sleep(0.05)
        conn.close()
        return list(seen.values()), len(sent) - len(seen)

    def summary(self, name, latencies, missing):
        row = {
            "mode": name,
            "emails": len(latencies) + missing,
            "missing": missing,
            "p50_s": round(percentile(latencies, 0.5), 2) if latencies else None,
            "p95_s": round(percentile(latencies, 0.95), 2) if latencies else None,
            "max_s": round(max(latencies), 2) if latencies else None,
        }
        print(json.dumps(row), flush=True)
        return row

    def deliver_over_time(self, user, prefix, times):
        """Append one email at each offset of ``times`` (seconds from now), in the background."""
        sent = {}
        start = time.monotonic()

        def run():
            for i, offset in enumerate(sorted(times)):
                time.sleep(max(start + offset - time.monotonic(), 0))
                subject = f"{prefix} {i}"
                sent[subject] = time.monotonic()
                self.dovecot.append(user, email(subject))

        thread = threading.Thread(target=run)
        thread.start()
        return sent, thread

    # -- scenarios ----------------------------------------------------------------------
    def setup(self):
        def prepare(env):
            env["fetchmail.server"].search([]).action_archive()
            ticket_model = env["ir.model"]._get("helpdesk.ticket").id
            server = env["fetchmail.server"].create(
                {
                    "name": "latency support",
                    "server_type": "imap",
                    "server": "127.0.0.1",
                    "port": self.dovecot.imap_port,
                    "is_ssl": False,
                    "verify_tls": False,
                    "user": "support",
                    "password": "support",
                    "use_converter": True,
                    "object_id": ticket_model,
                    "state": "done",
                    "converter_pipe_secret": SECRET,
                }
            )
            cron = env.ref("mail.ir_cron_mail_gateway_action")
            cron.write({"active": False, "interval_number": 1, "interval_type": "minutes"})
            return server.id

        self.server_id = self.env_do(prepare)

    def set_mode(self, instant, polling):
        def apply(env):
            env["fetchmail.server"].browse(self.server_id).converter_instant = instant
            cron = env.ref("mail.ir_cron_mail_gateway_action")
            cron.write({"active": polling, "nextcall": env.cr.now()})

        self.env_do(apply)

    def scenario_pipe(self):
        latencies, missing = [], 0
        url = f"http://127.0.0.1:{self.http_port}"
        environ = dict(os.environ, MAIL_CONVERTER_SECRET=SECRET)
        conn = self.raw_conn()
        for i in range(self.args.emails):
            subject = f"Latency pipe {i}"
            path = os.path.join(self.tmp, "pipe.eml")
            with open(path, "wb") as fh:
                fh.write(email(subject))
            start = time.monotonic()
            done = subprocess.run(
                f"cat {path} | {sys.executable} {MAILGATE} --url {url} --mailbox {self.server_id}"
                f" --database {self.args.db}",
                shell=True,
                env=environ,
                capture_output=True,
                check=False,
            )
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM helpdesk_ticket WHERE name = %s", (subject,))
                found = cur.fetchone()
            if done.returncode or not found:
                missing += 1
            else:
                latencies.append(time.monotonic() - start)
        conn.close()
        return self.summary("pipe", latencies, missing)

    def scenario_idle(self):
        self.set_mode(instant=True, polling=False)
        listener = self.start_listener()
        self.wait_state({self.server_id}, "watching")
        times = [i * self.args.idle_spacing for i in range(self.args.emails)]
        sent, thread = self.deliver_over_time("support", "Latency idle", times)
        latencies, missing = self.observe(sent, 120, thread)
        self.stop(listener)
        return self.summary("idle", latencies, missing)

    def scenario_polling(self):
        self.set_mode(instant=False, polling=True)
        window = self.args.poll_window
        times = [random.uniform(0, window) for _i in range(self.args.emails)]  # noqa: S311
        sent, thread = self.deliver_over_time("support", "Latency poll", times)
        latencies, missing = self.observe(sent, 300, thread)
        self.set_mode(instant=False, polling=False)
        return self.summary("polling (1-minute cron)", latencies, missing)

    def wait_state(self, server_ids, state, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.env_do(
                lambda env: (
                    env["fetchmail.server"]
                    .browse(list(server_ids))
                    .mapped("converter_instant_state")
                )
            )
            if states and all(s == state for s in states):
                return
            time.sleep(0.5)
        raise RuntimeError(f"mailboxes not {state}: {states}")

    def scenario_idle_cost(self):
        count = self.args.idle_mailboxes

        def make(env):
            ticket_model = env["ir.model"]._get("helpdesk.ticket").id
            env["fetchmail.server"].browse(self.server_id).converter_instant = False
            return (
                env["fetchmail.server"]
                .create(
                    [
                        {
                            "name": f"latency idle {i:02d}",
                            "server_type": "imap",
                            "server": "127.0.0.1",
                            "port": self.dovecot.imap_port,
                            "is_ssl": False,
                            "verify_tls": False,
                            "user": f"idle{i:02d}",
                            "password": f"idle{i:02d}",
                            "use_converter": True,
                            "converter_instant": True,
                            "object_id": ticket_model,
                            "state": "done",
                        }
                        for i in range(count)
                    ]
                )
                .ids
            )

        ids = self.env_do(make)
        listener = self.start_listener()
        self.wait_state(set(ids), "watching")
        time.sleep(30)  # let the start-up writes reach the statistics (flushed every few seconds)
        conn = self.raw_conn()

        def written():
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables"
                )
                return cur.fetchone()[0]

        before = written()
        time.sleep(self.args.idle_seconds)
        after = written()
        imap = subprocess.run(
            ["ss", "-Htn", "state", "established", f"dport = :{self.dovecot.imap_port}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.count("\n")
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.args.db,),
            )
            pg = cur.fetchone()[0]
        with open(f"/proc/{listener.pid}/status") as fh:
            rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        conn.close()
        self.stop(listener)
        row = {
            "mode": f"{count} quiet watched mailboxes",
            "imap_connections": imap,
            "pg_connections": pg,
            "listener_rss_mb": round(rss / 1024, 1),
            "db_rows_written_per_hour": round((after - before) * 3600 / self.args.idle_seconds),
            "measured_seconds": self.args.idle_seconds,
        }
        print(json.dumps(row), flush=True)
        return row

    def run(self):
        self.tmp = tempfile.mkdtemp(prefix="mc-latency-")
        os.chmod(self.tmp, 0o755)  # Dovecot's unprivileged processes read below it
        users = ["support"] + [f"idle{i:02d}" for i in range(self.args.idle_mailboxes)]
        self.dovecot = Dovecot(
            os.path.join(self.tmp, "dovecot"), self.args.port_base, users
        ).start()
        results = []
        try:
            self.setup()
            odoo = self.start_odoo()
            scenarios = self.args.scenarios.split(",")
            if "pipe" in scenarios:
                results.append(self.scenario_pipe())
            if "idle" in scenarios:
                results.append(self.scenario_idle())
            if "polling" in scenarios:
                results.append(self.scenario_polling())
            self.stop(odoo)  # the quiet mailboxes are measured with the listener alone
            if "cost" in scenarios:
                results.append(self.scenario_idle_cost())
        finally:
            for proc in self.procs:
                if proc.poll() is None:
                    self.stop(proc)
            self.dovecot.stop()
            if not self.args.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--odoo-args", required=True, help="JSON list of odoo options")
    parser.add_argument("--emails", type=int, default=100)
    parser.add_argument(
        "--idle-spacing", type=float, default=1.0, help="seconds between IDLE emails"
    )
    parser.add_argument("--poll-window", type=float, default=120.0)
    parser.add_argument("--idle-mailboxes", type=int, default=50)
    parser.add_argument("--idle-seconds", type=int, default=120)
    parser.add_argument(
        "--port-base", type=int, default=int(os.environ.get("MC_TEST_PORT_BASE", 24100)) + 300
    )
    parser.add_argument("--scenarios", default="pipe,idle,polling,cost")
    parser.add_argument("--server-log-level", default="warn", help="the Odoo server's log level")
    parser.add_argument(
        "--keep", action="store_true", help="keep the logs in the temporary directory"
    )
    args = parser.parse_args()
    results = Bench(args).run()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

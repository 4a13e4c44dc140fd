#!/usr/bin/env python3
"""Hand one email from a mail server (Postfix, Exim...) to a mail_converter mailbox.

Reads the raw email on standard input and posts it to the mailbox's pipe URL,
as odoo-mailgate.py does for Odoo's own gateway, but through the converter's
pipeline (log first, exactly once, rules, privacy). Standard library only.

    mail_converter_mailgate.py --url https://odoo.example.com --mailbox 3 \\
        --secret-file /etc/postfix/mail_converter.secret [--database prod]

Exit status (sysexits), which the mail server acts on:
  0   delivered (or logged, e.g. as a duplicate)
  75  EX_TEMPFAIL: Odoo unreachable, busy or failing; the mail server keeps the email
      and tries again later
  77  EX_NOPERM: the secret was refused; 65 EX_DATAERR: too large for the mailbox;
  69  EX_UNAVAILABLE: any other refusal. The mail server bounces the email.
"""

import argparse
import os
import sys
import urllib.error
import urllib.request

EX_OK, EX_DATAERR, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM, EX_CONFIG = 0, 65, 69, 75, 77, 78
MARKER = b"mail_converter: "  # every answer of the pipe route starts with it


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="Odoo's address, e.g. https://odoo.example.com"
    )
    parser.add_argument("--mailbox", required=True, type=int, help="the mailbox's id")
    parser.add_argument("--database", help="the database, when the Odoo server has several")
    parser.add_argument(
        "--secret-file",
        help="file holding the mailbox's pipe secret (default: $MAIL_CONVERTER_SECRET)",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    return parser.parse_args(argv)


def read_secret(args):
    if args.secret_file:
        with open(args.secret_file, encoding="utf-8") as fh:
            return fh.read().strip()
    return os.environ.get("MAIL_CONVERTER_SECRET", "").strip()


def status_of(code):
    """The exit status for an HTTP answer's status ``code``."""
    if code == 200:
        return EX_OK
    if code in (401, 403):
        return EX_NOPERM
    if code == 413:
        return EX_DATAERR
    if code in (408, 429) or code >= 500:
        return EX_TEMPFAIL
    return EX_UNAVAILABLE


def deliver(args, raw, secret):
    """Post ``raw``; return the exit status and a line for the mail server's log."""
    url = f"{args.url.rstrip('/')}/mail_converter/pipe/{args.mailbox}"
    headers = {"Content-Type": "message/rfc822", "X-Mail-Converter-Secret": secret}
    if args.database:
        headers["X-Odoo-Database"] = args.database
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310
            code, body = response.status, response.read(1024)
    except urllib.error.HTTPError as exc:
        code, body = exc.code, exc.read(1024)
    except (OSError, ValueError) as exc:  # refused, unreachable, timed out, TLS...
        return EX_TEMPFAIL, f"Odoo is unreachable ({exc}); try again later"
    if not body.startswith(MARKER):
        # Not the pipe's answer (a proxy's error page, a login page): never count it as delivered.
        return (EX_TEMPFAIL if code == 200 else status_of(code)), f"unexpected answer {code}"
    return status_of(code), body[len(MARKER) :].decode("utf-8", "replace").strip()


def main(argv=None):
    args = parse_args(argv)
    try:
        secret = read_secret(args)
    except OSError as exc:
        sys.stderr.write(f"mail_converter_mailgate: cannot read the secret: {exc}\n")
        return EX_TEMPFAIL  # a configuration slip must not bounce mail
    if not secret:
        sys.stderr.write(
            "mail_converter_mailgate: no secret (--secret-file or MAIL_CONVERTER_SECRET)\n"
        )
        return EX_CONFIG
    raw = sys.stdin.buffer.read()
    status, message = deliver(args, raw, secret)
    stream = sys.stdout if status == EX_OK else sys.stderr
    stream.write(f"mail_converter_mailgate: {message}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())

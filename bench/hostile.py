"""Hostile input benchmark: crafted headers and patterns at growing sizes, pure Python, no Odoo.

Run it with the project's Python (no database, no mail server)::

    /opt/mail_converter/venv/bin/python bench/hostile.py [--old]

Each row times one tool on one crafted input; doubling the size should about
double the time (linear), never quadruple it. ``--old`` also times what the
code did before issue 9, for comparison (the old
address regex took 93 s on one crafted header, decoding a 2.8 MB subject 67 s).
"""

import argparse
import email
import email.policy
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tools import addresses, bounce, mime, safe_regex  # noqa: E402

SIZES = (25_000, 50_000, 100_000, 200_000, 400_000, 800_000)
OLD_MSGID_LINE_RE = re.compile(
    r"^\s*(message-id|references|in-reply-to|x-microsoft-original-message-id):\s*(.+)$",
    re.IGNORECASE | re.MULTILINE,
)
OLD_EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


def crafted_address(n):
    return "a@" + "b." * (n // 2) + "@"


def encoded_subject(n):
    word = "=?utf-8?q?" + "a" * 60 + "?= "
    return word * (n // len(word))


def recipients(n):
    return ", ".join(f"user{i}@spam.example" for i in range(n // 20))


def as_email(name, value):
    return f"From: a@b.example\r\n{name}: {value}\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n".encode()


def blank_line_report(n):
    """A forged delivery report whose text is ``n`` blank lines (issue 18: 42 s at 40 KB)."""
    return (
        b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\n" + b"\n" * n + b"x\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x.example\r\n"
        b"\r\nFinal-Recipient: rfc822; carla@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\n--B--\r\n"
    )


def many_parts(n):
    """An email of n/40 tiny MIME parts (issue 18: 100,000 parts took 47 s to parse)."""
    part = b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return (
        b"From: a@b.example\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        + part * (n // len(part))
        + b"--B--\r\n"
    )


def odoo_parser_to(raw):
    """What the pipeline does before Odoo parses the To: cut, rewrite, then the stdlib's parser."""
    raw = addresses.safe_headers(mime.cap_headers(raw)[0])[0]
    email.message_from_bytes(raw, policy=email.policy.SMTP).get_all("To")


CASES = [
    # (label, builder of the input at size n, function under test)
    ("address check (crafted a@b.b.b...@)", crafted_address, addresses.normalize_email),
    ("address header parse (crafted)", crafted_address, addresses.parse_header),
    ("To: n/20 recipients, parse", recipients, addresses.parse_header),
    (
        "Subject: RFC 2047 words, summarize",
        lambda n: as_email("Subject", encoded_subject(n)),
        mime.summarize,
    ),
    ("To: n/20 recipients, summarize", lambda n: as_email("To", recipients(n)), mime.summarize),
    (
        "header cap before Odoo's parser",
        lambda n: as_email("Subject", encoded_subject(n)),
        mime.cap_headers,
    ),
    (
        "To: crafted, as Odoo's parser reads it",
        lambda n: as_email("To", "(" * (n // 2) + crafted_address(n // 2)),
        odoo_parser_to,
    ),
    (
        r"rule regex ^(\w+\s?){1,50}$ (RE2)",
        lambda n: "a" * n + "!",
        safe_regex.compile(r"^(\w+\s?){1,50}$").search,
    ),
    (r"rule regex (\d*){50}x (RE2)", lambda n: "1" * n, safe_regex.compile(r"(\d*){50}x").search),
    (r"rule regex (a+)+$ (RE2)", lambda n: "a" * n + "b", safe_regex.compile(r"(a+)+$").search),
    ("bounce report of blank lines, detect", blank_line_report, bounce.detect),
    (
        "n/40 MIME parts, boundary scan (uncapped)",
        many_parts,
        lambda raw: mime.count_parts(raw, 10**9),
    ),
    ("n/40 MIME parts, cap check before parsing", many_parts, mime.count_parts),
]

OLD_CASES = [
    ("OLD address regex (crafted)", crafted_address, OLD_EMAIL_RE.match),
    ("OLD decode of the whole subject", encoded_subject, mime.decode_header_value),
    ("OLD Message-ID line regex, blank lines", lambda n: "\n" * n, OLD_MSGID_LINE_RE.findall),
    (
        "OLD To: crafted, cut only, Odoo's parser",
        lambda n: as_email("To", crafted_address(n)),
        lambda raw: email.message_from_bytes(
            mime.cap_headers(raw)[0], policy=email.policy.SMTP
        ).get_all("To"),
    ),
]


def timed(function, value):
    start = time.perf_counter()
    function(value)
    return time.perf_counter() - start


def run(cases, sizes):
    width = max(len(label) for label, _b, _f in cases)
    print(f"{'input':<{width}}  " + "  ".join(f"{n:>9,}" for n in sizes) + "   growth per x2")
    for label, build, function in cases:
        times = [timed(function, build(n)) for n in sizes]
        growth = [b / a for a, b in zip(times, times[1:], strict=False) if a > 0.0005]
        ratio = f"x{sum(growth) / len(growth):.1f}" if growth else "-"
        print(
            f"{label:<{width}}  " + "  ".join(f"{t * 1000:8.1f}ms" for t in times) + f"   {ratio}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", action="store_true", help="also time the code before issue 9")
    args = parser.parse_args()
    print("Sizes are characters of the crafted header or text.\n")
    run(CASES, SIZES)
    if args.old:
        print("\nBefore issue 9 (quadratic or worse, so smaller sizes):\n")
        run(OLD_CASES[:1], SIZES[:3])
        print()
        run(OLD_CASES[1:2], SIZES[2:])
        print()
        run(OLD_CASES[2:3], (5_000, 10_000, 20_000))
        print()
        run(OLD_CASES[3:], SIZES[:2])


if __name__ == "__main__":
    main()

"""Hostile input benchmark: crafted addresses, headers and regexes at growing sizes.

    /opt/mail_converter/venv/bin/python bench/hostile.py [--max-kb 3200]

Runs the pure-Python tools (no Odoo, no database) on inputs built to make
parsers backtrack or recurse, doubling their size each row, and prints the
time of each. Linear code doubles its time when the input doubles (the
"x prev" column stays near 2); the former code grew by 4 (quadratic): 93 s on
one crafted address header, 67 s on a 2.8 MB subject. A benchmark, not a
test: timings depend on the machine.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tools import addresses, mime, safe_regex  # noqa: E402


def _email(subject=b"Hello", to=b"support@company.example"):
    return (
        b"From: Alice <alice@customer.example>\r\nTo: "
        + to
        + b"\r\nSubject: "
        + subject
        + b"\r\nMessage-ID: <hostile@customer.example>\r\n\r\nBody\r\n"
    )


# name -> function of a size in bytes, building the input and running the tool on it
CASES = {
    "address check, dots between two @": lambda n: addresses.normalize_email("a@" + "." * n + "@"),
    "address check, one huge local part": lambda n: addresses.normalize_email(
        "x" * n + "@example.com"
    ),
    "To header, nested comments": lambda n: addresses.parse_header("(" * n),
    "To header, nested groups": lambda n: addresses.parse_header("a:" * (n // 2)),
    "To header, many addresses": lambda n: addresses.collect(
        {"to": ", ".join(f"u{i}@example.com" for i in range(n // 16))}
    ),
    "Subject of encoded words (summary)": lambda n: mime.summarize(
        _email(subject=b"=?utf-8?q?caf=C3=A9?= " * (n // 22))
    ),
    "To of crafted addresses (summary)": lambda n: mime.summarize(
        _email(to=b"a@" + b"." * n + b"@")
    ),
    "header block cap (cap_headers)": lambda n: mime.cap_headers(
        _email(subject=b"x" * n) + b"y" * n
    ),
}

# Patterns admins could type to stall Python's re; RE2 runs them in linear time or refuses them.
PATTERNS = (r"^(\w+\s?){1,50}$", r"(\d*){50}x", r"(a+)+$", r"^(a|aa)+$", r"(x+x+)+y")
REFUSED = (r"(a)\1", r"(?=a)a", r"(?<!b)a")


def _time(func, size, repeat=3):
    best = None
    for _i in range(repeat):
        start = time.perf_counter()
        func(size)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def _row(label, sizes, func):
    print(f"\n{label}")
    print(f"  {'size':>10}  {'seconds':>9}  {'x prev':>6}")
    previous = None
    for size in sizes:
        elapsed = _time(func, size)
        ratio = f"{elapsed / previous:6.1f}" if previous and previous > 1e-5 else "     -"
        print(f"  {size // 1024:>7} KB  {elapsed:9.4f}  {ratio}")
        previous = elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-kb", type=int, default=3200, help="largest input (KB)")
    args = parser.parse_args(argv)
    sizes = []
    size = 100 * 1024
    while size <= args.max_kb * 1024:
        sizes.append(size)
        size *= 2
    for label, func in CASES.items():
        _row(label, sizes, func)
    for pattern in PATTERNS:
        compiled = safe_regex.compile(pattern)

        def run(n, compiled=compiled):
            compiled.search("a" * n + "!")
            compiled.search("1" * n)
            compiled.search("word " * (n // 5) + "!")

        _row(f"admin regex {pattern} (RE2)", sizes, run)
    print("\nRefused when saved (RE2 has no backtracking constructs):")
    for pattern in REFUSED:
        print(f"  {pattern:<12} {safe_regex.check(pattern)}")


if __name__ == "__main__":
    main()

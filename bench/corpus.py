"""Deterministic corpus of realistic support mail: HTML, Cc lists, attachments, replies.

Pure Python (no Odoo). ``generate(n, seed)`` returns a list of RFC 822 byte strings;
replies refer to earlier messages of the same corpus by In-Reply-To/References,
so they thread onto the tickets the first messages create.
"""

import random
import struct
import zlib
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

FIRST = [
    "Alice",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Inès",
    "Jonas",
    "Kasia",
    "Luca",
    "Maya",
    "Nils",
    "Olga",
    "Pedro",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
]
LAST = [
    "Martin",
    "Rossi",
    "Novak",
    "Schmidt",
    "García",
    "Dubois",
    "Kowalski",
    "Jensen",
    "Tanaka",
    "O'Brien",
    "Nguyen",
    "Silva",
    "Müller",
    "Costa",
    "Larsen",
]
COMPANIES = [
    ("Acme Tools", "acme.example"),
    ("Blue Harbour", "blueharbour.example"),
    ("Cobalt Labs", "cobalt.example"),
    ("Delta Foods", "deltafoods.example"),
    ("Evergreen GmbH", "evergreen.example"),
    ("Fjord Shipping", "fjord.example"),
]
FREEMAIL = ["gmail.example", "outlook.example", "yahoo.example"]
TOPICS = [
    (
        "Printer on floor 3 is jammed again",
        "The printer on the third floor shows error E-203 and jams on every page.",
    ),
    (
        "Cannot log in to the portal",
        "Since this morning I get 'invalid credentials' although I reset my password.",
    ),
    (
        "Invoice {n} looks wrong",
        "The VAT on invoice {n} is computed at 20% instead of 10%. Could you check?",
    ),
    (
        "Request for a quote: 40 licences",
        "We would like a quote for 40 additional licences, billed yearly.",
    ),
    (
        "Delivery {n} arrived damaged",
        "Two of the five boxes of delivery {n} arrived crushed. Photos attached.",
    ),
    (
        "VPN disconnects every 10 minutes",
        "The VPN client drops the connection every ten minutes since the update.",
    ),
    (
        "Urgent: production line stopped",
        "Line B stopped at 06:40 with a controller fault. We need a technician.",
    ),
    (
        "Question about our contract renewal",
        "Our contract ends next month. What are the renewal options?",
    ),
    (
        "Password reset link expired",
        "The reset link in your email says it has expired immediately.",
    ),
    (
        "Feature request: export to CSV",
        "It would help us a lot if the report could be exported to CSV.",
    ),
]
REPLY_LINES = [
    "Any news on this?",
    "Thanks, that solved it.",
    "It happened again this morning.",
    "Please find the requested log file attached.",
    "Can someone call me back today?",
]
SIGNATURE_HTML = "<p>--<br/>{name}<br/>{company}<br/><small>Sent from my office</small></p>"


def _person(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company, domain = rng.choice(COMPANIES)
    if rng.random() < 0.25:
        domain, company = rng.choice(FREEMAIL), ""
    email = (
        f"{first.lower()}.{last.lower()}@{domain}".replace("'", "")
        .replace("é", "e")
        .replace("è", "e")
        .replace("ü", "u")
        .replace("í", "i")
        .replace("ç", "c")
    )
    return f"{first} {last}", email, company


def _png(rng, width, height):
    """A valid RGB PNG of noise (a photo compresses about as badly)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\0" + bytes(rng.getrandbits(8) for _ in range(width * 3)) for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _attachment(rng, kind):
    if kind == "pdf":
        body = (
            b"%PDF-1.4\n"
            + bytes(rng.getrandbits(8) for _ in range(rng.randint(2_000, 40_000)))
            + b"\n%%EOF\n"
        )
        return "report.pdf", body, "application/pdf"
    if kind == "png":
        return "photo.png", _png(rng, rng.randint(60, 240), rng.randint(40, 160)), "image/png"
    lines = "\n".join(
        f"2026-11-{rng.randint(1, 28):02d} 10:{i:02d} ERROR code {rng.randint(100, 999)}"
        for i in range(rng.randint(20, 200))
    )
    return "client.log", lines.encode(), "text/plain"


def generate(count=500, seed=42, to="support@company.example", start=None):
    """Return ``count`` RFC 822 messages (bytes), about a fifth of them replies."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    threads = []  # (message_id, subject, person)
    result = []
    for index in range(count):
        date = start + timedelta(minutes=7 * index + rng.randint(0, 5))
        msg = EmailMessage()
        reply_to = rng.choice(threads) if threads and rng.random() < 0.2 else None
        if reply_to:
            parent_id, subject, person = reply_to
            subject = subject if subject.startswith("Re: ") else f"Re: {subject}"
            text = rng.choice(REPLY_LINES)
            msg["In-Reply-To"] = parent_id
            msg["References"] = parent_id
        else:
            person = _person(rng)
            title, text = rng.choice(TOPICS)
            number = f"{rng.randint(10000, 99999)}"
            subject, text = title.format(n=number), text.format(n=number)
        name, email, company = person
        message_id = f"<bench-{seed}-{index}@{email.split('@')[1]}>"
        msg["From"] = formataddr((name, email))
        msg["To"] = to
        if rng.random() < 0.4:
            cc = [_person(rng) for _ in range(rng.randint(1, 4))]
            msg["Cc"] = ", ".join(formataddr((p[0], p[1])) for p in cc)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(date)
        msg["Message-ID"] = message_id
        plain = f"Hello,\n\n{text}\n\nBest regards,\n{name}\n{company}\n"
        msg.set_content(plain)
        if rng.random() < 0.7:
            html = (
                f"<html><body><p>Hello,</p><p>{text}</p>"
                f"<table border='1'><tr><td>Reference</td><td>{index}</td></tr></table>"
                + SIGNATURE_HTML.format(name=name, company=company)
                + "</body></html>"
            )
            msg.add_alternative(html, subtype="html")
        if rng.random() < 0.3:
            filename, content, mimetype = _attachment(rng, rng.choice(["pdf", "png", "log"]))
            maintype, subtype = mimetype.split("/")
            msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
        if not reply_to:
            threads.append((message_id, subject, person))
        result.append(msg.as_bytes())
    return result


def big(count=20, size=25 * 1024 * 1024, seed=7, to="support@company.example"):
    """``count`` messages each carrying one incompressible attachment of ``size`` bytes."""
    rng = random.Random(seed)
    result = []
    for index in range(count):
        name, email, _company = _person(rng)
        msg = EmailMessage()
        msg["From"] = formataddr((name, email))
        msg["To"] = to
        msg["Subject"] = f"Scans of the site visit {index}"
        msg["Date"] = format_datetime(datetime(2026, 11, 3, 9, index % 60, tzinfo=timezone.utc))
        msg["Message-ID"] = f"<bench-big-{seed}-{index}@{email.split('@')[1]}>"
        msg.set_content("Hello,\n\nthe scans are attached.\n")
        msg.add_attachment(
            rng.randbytes(size),
            maintype="application",
            subtype="octet-stream",
            filename=f"scans-{index}.bin",
        )
        result.append(msg.as_bytes())
    return result


if __name__ == "__main__":
    import sys

    messages = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
    print(f"{len(messages)} messages, {sum(map(len, messages)) / 1e6:.1f} MB")

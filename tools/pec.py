"""Italian certified mail (PEC, Posta Elettronica Certificata): open the envelope. No Odoo import.

A PEC provider delivers every certified message inside a signed envelope
(``X-Trasporto: posta-certificata``; ``errore`` for an anomaly envelope around
uncertified mail) whose attachments are the real message (``postacert.eml``)
and the certification data (``daticert.xml``). Providers also send receipts
(``X-Ricevuta``) about the messages the company sends; they refer to them by
``X-Riferimento-Message-ID``. Technical rules: DPR 68/2005, DM 2 November 2005.
"""

import email
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.utils import parseaddr
from io import BytesIO

from .addresses import normalize_email
from .mime import decode_header_value, normalize_message_id

RECEIPT_TYPES = (
    "accettazione",
    "non-accettazione",
    "presa-in-carico",
    "avvenuta-consegna",
    "errore-consegna",
    "preavviso-errore-consegna",
    "rilevazione-virus",
)
# Receipts saying the message did not reach its recipient.
FAILURE_RECEIPTS = frozenset(
    {"non-accettazione", "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus"}
)
ENVELOPE_NAME = "postacert.eml"
DATICERT_NAME = "daticert.xml"
_PER_CONTO_RE = re.compile(r"per conto di:?\s*(\S+@\S+)", re.IGNORECASE)
MAX_DATICERT = 64 * 1024


@dataclass
class Pec:
    """What a certified mailbox received: a certified message, a receipt, or plain mail."""

    kind: str  # message, anomaly (uncertified mail wrapped by the provider), receipt, broken, plain
    envelope: bytes = b""  # the whole envelope, as received
    inner: bytes | None = None  # postacert.eml: the message to convert (message, anomaly)
    daticert: bytes | None = None
    receipt_type: str = ""  # X-Ricevuta
    reference: str = ""  # X-Riferimento-Message-ID: the message a receipt is about
    sender: str = ""  # the certified sender (message) or the provider (receipt)
    error: str = ""  # why the envelope could not be opened
    data: dict = field(default_factory=dict)  # daticert.xml: tipo, mittente, consegna, ...

    @property
    def certified(self):
        return self.kind in ("message", "anomaly", "receipt", "broken")


def is_envelope(headers):
    """Whether ``headers`` (lower-case names) are those of a PEC envelope or receipt."""
    return bool(headers.get("x-ricevuta") or headers.get("x-trasporto"))


def unwrap(raw):
    """Open the PEC envelope ``raw`` (bytes); never raises."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    try:
        message = email.message_from_bytes(raw)
    except Exception as exc:  # noqa: BLE001 - unreadable: converted as plain mail
        return Pec("plain", raw, error=f"unreadable envelope: {exc}")
    receipt = str(message.get("x-ricevuta", "")).strip().lower()
    transport = str(message.get("x-trasporto", "")).strip().lower()
    if not receipt and not transport:
        return Pec("plain", raw)
    daticert = _find_part(message, DATICERT_NAME, "application/xml")
    result = Pec(
        kind="receipt" if receipt else "message",
        envelope=raw,
        daticert=daticert.get_payload(decode=True) if daticert is not None else None,
        receipt_type=receipt,
        reference=normalize_message_id(str(message.get("x-riferimento-message-id", ""))) or "",
    )
    result.data = parse_daticert(result.daticert)
    if receipt:
        result.reference = result.reference or normalize_message_id(result.data.get("msgid")) or ""
        result.sender = parseaddr(str(message.get("from", "")))[1].lower()
        return result
    if transport == "errore":
        result.kind = "anomaly"
    inner = _find_part(message, ENVELOPE_NAME, "message/rfc822")
    if inner is None or not inner.is_multipart():
        result.kind = "broken"
        result.error = f"PEC envelope without {ENVELOPE_NAME}"
        result.sender = _envelope_sender(message, result.data)
        return result
    inner_message = inner.get_payload(0)
    if not inner_message.get("message-id") and result.reference:
        # The provider's reference is the certified message's own Message-ID.
        inner_message["Message-ID"] = result.reference
    result.inner = message_bytes(inner_message)
    result.sender = normalize_email(
        parseaddr(decode_header_value(inner_message.get("from", "")))[1]
    ) or _envelope_sender(message, result.data)
    return result


def _find_part(message, filename, content_type):
    """The attachment called ``filename``, else the first part of ``content_type``."""
    fallback = None
    for part in message.walk():
        name = (part.get_filename() or "").strip().lower()
        if name == filename:
            return part
        if fallback is None and part.get_content_type() == content_type:
            fallback = part
    return fallback


def _envelope_sender(message, data):
    """The certified sender as the envelope states it (daticert, Reply-To, "Per conto di")."""
    sender = normalize_email(data.get("mittente", ""))
    if sender:
        return sender
    reply_to = normalize_email(parseaddr(str(message.get("reply-to", "")))[1])
    if reply_to:
        return reply_to
    found = _PER_CONTO_RE.search(decode_header_value(message.get("from", "")))
    return normalize_email(found.group(1).strip('"<>')) if found else ""


def parse_daticert(data):
    """The fields of ``daticert.xml`` (bytes) as a flat dict; ``{}`` when absent or unreadable.

    Documents with a DOCTYPE are refused: certification data never needs one,
    and refusing it rules out entity expansion attacks.
    """
    if not data or len(data) > MAX_DATICERT or b"<!DOCTYPE" in data.upper():
        return {}
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return {}
    result = {"tipo": root.get("tipo", ""), "errore": root.get("errore", "")}
    for node in root.iter():
        tag = node.tag.rpartition("}")[2]
        text = (node.text or "").strip()
        if tag in ("mittente", "oggetto", "gestore-emittente", "identificativo", "msgid"):
            result.setdefault(tag, text)
        elif tag in ("destinatari", "consegna", "ricezione"):
            result.setdefault(tag, [])
            if text:
                result[tag].append(text)
        elif tag == "errore-esteso" and text:
            result["errore-esteso"] = text
        elif tag == "data":
            day = (node.findtext("giorno") or "").strip()
            hour = (node.findtext("ora") or "").strip()
            result["data"] = f"{day} {hour} {node.get('zona', '')}".strip()
    return result


def message_bytes(message):
    """``message`` serialised without refolding its headers."""
    buffer = BytesIO()
    BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0).flatten(message)
    return buffer.getvalue()

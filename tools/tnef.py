"""Outlook's ``winmail.dat`` (TNEF, MS-OXTNEF): the attachments and body it wraps. No Odoo import.

Outlook and Exchange send rich-text mail to clients they believe are Outlook as
one ``application/ms-tnef`` part; anyone else sees an opaque ``winmail.dat``.
``tnefparse`` reads the format; this module only decides what a reader gets.
"""

import logging
from dataclasses import dataclass

import tnefparse

_logger = logging.getLogger(__name__)

# The TNEF signature 0x223E9F78, little-endian: the first four bytes of every blob.
SIGNATURE = b"\x78\x9f\x3e\x22"
# Larger blobs are kept as they are: unpacking copies every attachment in memory.
MAX_SIZE = 50 * 1024 * 1024
MAX_ATTACHMENTS = 100


@dataclass(frozen=True)
class Unpacked:
    """What a TNEF blob holds: ``attachments`` as ``(name, bytes)``, and its body if any."""

    attachments: tuple = ()
    body: str = ""  # plain text
    html: str = ""


def is_tnef(content):
    """Whether ``content`` (bytes) is a TNEF blob, whatever the attachment is called."""
    return isinstance(content, bytes) and content[:4] == SIGNATURE


def _text(value, codepage="cp1252"):
    """A TNEF string property as ``str`` (tnefparse returns bytes or str, NUL-terminated)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            value = value.decode(codepage)
        except (LookupError, UnicodeDecodeError):
            value = value.decode("utf-8", "replace")
    return value.rstrip("\x00")


def _attachment_name(attachment, codepage):
    """The attachment's file name; tnefparse decodes the short title as UTF-8, Outlook writes it
    in the message's code page."""
    try:
        return _text(attachment.long_filename(), codepage)
    except UnicodeDecodeError:
        return _text(attachment._name, codepage)


def unpack(content):
    """The :class:`Unpacked` content of a TNEF blob, or ``None`` when it cannot be read."""
    if not is_tnef(content) or len(content) > MAX_SIZE:
        return None
    try:
        blob = tnefparse.TNEF(content, do_checksum=False)
        codepage = blob.codepage or "cp1252"
        attachments = []
        for index, attachment in enumerate(blob.attachments[:MAX_ATTACHMENTS], start=1):
            data = attachment.data
            if not isinstance(data, bytes) or not data:
                continue
            name = _attachment_name(attachment, codepage) or f"attachment-{index}"
            attachments.append((name, data))
        body = _text(blob.body, codepage)
        html = _text(blob.htmlbody, codepage)
    except Exception as error:  # noqa: BLE001 - a stranger's blob: any failure keeps the original
        _logger.info("winmail.dat could not be unpacked: %s", error)
        return None
    if not attachments and not body.strip() and not html.strip():
        return None
    return Unpacked(attachments=tuple(attachments), body=body, html=html)

"""Unit tests of tools/archive.py: no Odoo, no database, milliseconds."""

import io
import mailbox
import os
import shutil
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools import archive  # noqa: E402


def message(n, body=b"Hello.\n"):
    return (
        b"From: Sender %d <sender%d@example.com>\nTo: support@example.com\n"
        b"Subject: Message %d\nMessage-ID: <m%d@example.com>\n\n" % (n, n, n, n) + body
    )


class TestArchive(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mc-archive-")
        self.addCleanup(shutil.rmtree, self.dir)

    def stdlib_mbox(self, messages):
        """An mbox written by the standard library (mboxo: body ``From `` lines become ``>From ``)."""
        path = os.path.join(self.dir, "stdlib.mbox")
        box = mailbox.mbox(path)
        for raw in messages:
            box.add(raw)
        box.flush()
        box.close()
        with open(path, "rb") as fh:
            return fh.read()

    def read(self, data, kind="mbox", **kw):
        return list(archive.iter_entries(io.BytesIO(data), kind, **kw))

    def test_round_trip_of_the_stdlib_writer(self):
        messages = [
            message(1),
            message(2, b"From the start of a line, escaped by the writer.\n\nbye\n"),
            message(3, b"Last one.\n\n\n"),
        ]
        data = self.stdlib_mbox(messages)
        self.assertIn(b"\n>From the start", data)
        entries = self.read(data)
        # The messages as they were given to the writer: the escaping is undone...
        self.assertEqual([e.raw for e in entries], messages)
        self.assertEqual([e.index for e in entries], [0, 1, 2])
        self.assertFalse(any(e.error for e in entries))
        self.assertEqual(archive.count_messages(io.BytesIO(data), "mbox"), (3, 0))
        # ...which the stdlib's own reader leaves in place; otherwise both split alike.
        box = mailbox.mbox(os.path.join(self.dir, "stdlib.mbox"))
        self.addCleanup(box.close)
        stdlib = [box.get_bytes(key) for key in box.keys()]
        self.assertEqual([raw.replace(b"\n>From ", b"\nFrom ") for raw in stdlib], messages)

    def test_mboxrd_unescaping(self):
        data = (
            b"From a@b Mon Jan  1 00:00:00 2024\n"
            + message(1, b">From here\n>>From there\n>>>From afar\n> From not escaped\n")
            + b"\n"
        )
        (entry,) = self.read(data)
        self.assertTrue(
            entry.raw.endswith(b"From here\n>From there\n>>From afar\n> From not escaped\n")
        )

    def test_crlf_mbox_and_separator(self):
        data = (
            b"From a@b Mon Jan  1 00:00:00 2024\r\nSubject: one\r\n\r\nbody one\r\n\r\n"
            b"From a@b Mon Jan  1 00:00:01 2024\r\nSubject: two\r\n\r\nbody two\r\n"
        )
        entries = self.read(data)
        self.assertEqual(
            [e.raw for e in entries],
            [b"Subject: one\r\n\r\nbody one\r\n", b"Subject: two\r\n\r\nbody two\r\n"],
        )

    def test_resume_at_offset(self):
        data = self.stdlib_mbox([message(n) for n in range(5)])
        first = self.read(data)
        resumed = self.read(data, start_index=3, start_offset=first[2].next_offset)
        self.assertEqual([e.index for e in resumed], [3, 4])
        self.assertEqual([e.raw for e in resumed], [e.raw for e in first[3:]])
        self.assertEqual(first[-1].next_offset, len(data))

    def test_reader_takes_batches_and_knows_where_it_is(self):
        data = self.stdlib_mbox([message(n) for n in range(5)])
        reader = archive.ArchiveReader(io.BytesIO(data), "mbox")
        self.assertEqual([e.index for e in reader.take(2)], [0, 1])
        self.assertFalse(reader.exhausted)
        resumed = archive.ArchiveReader(io.BytesIO(data), "mbox", reader.index, reader.offset)
        self.assertEqual([e.raw for e in resumed.take(10)], [message(n) for n in range(2, 5)])
        self.assertTrue(resumed.exhausted)
        self.assertEqual((resumed.index, resumed.offset), (5, len(data)))
        self.assertEqual([e.index for e in reader.take(3)], [2, 3, 4])
        self.assertEqual(list(reader.take(3)), [])
        self.assertTrue(reader.exhausted)
        reader.close()
        self.assertTrue(reader.fileobj.closed)

    def test_byte_order_mark_dropped(self):
        (entry,) = self.read(b"\xef\xbb\xbf" + message(1), kind="eml")
        self.assertEqual(entry.raw, message(1))
        self.assertFalse(entry.error)

    def test_oversized_and_garbage_messages_reported(self):
        big = message(2, b"x" * 5000 + b"\n")
        data = self.stdlib_mbox([message(1), big, b"\x00\x01 binary junk\n", message(4)])
        entries = self.read(data, max_size=2000)
        self.assertEqual(len(entries), 4)
        self.assertEqual(entries[1].raw, None)
        self.assertIn("larger than", entries[1].error)
        self.assertIn("not an email", entries[2].error)
        self.assertEqual(entries[3].raw, message(4))

    def test_no_line_breaks_never_read_at_once(self):
        data = b"From a@b x\n" + b"y" * (3 * 1024 * 1024)
        (entry,) = self.read(data, max_size=1024 * 1024)
        self.assertIn("larger than", entry.error)

    def test_count_matches_reader_across_chunks(self):
        messages = [message(n, b"z" * 300_000 + b"\n") for n in range(12)]
        data = self.stdlib_mbox(messages)
        self.assertEqual(archive.count_messages(io.BytesIO(data), "mbox"), (12, 0))
        self.assertEqual(len(self.read(data)), 12)

    def test_zip_entries_one_by_one_with_a_broken_one(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("mail/one.eml", message(1))
            zf.writestr("mail/two.EML", message(2, b"BROKEN-MARKER\n"))
            zf.writestr("mail/three.eml", b"From a@b Mon Jan  1 00:00:00 2024\n" + message(3))
            zf.writestr("mail/", b"")
            zf.writestr("__MACOSX/mail/._one.eml", b"junk")
            zf.writestr("readme.txt", b"not mail")
        data = buffer.getvalue().replace(b"BROKEN-MARKER", b"BROKEN-MARKEX")
        self.assertEqual(archive.count_messages(io.BytesIO(data), "zip"), (3, 2))
        entries = self.read(data, kind="zip")
        self.assertEqual(
            [e.name for e in entries], ["mail/one.eml", "mail/two.EML", "mail/three.eml"]
        )
        self.assertEqual(entries[0].raw, message(1))
        self.assertIsNone(entries[1].raw)
        self.assertIn("CRC", entries[1].error)
        self.assertEqual(entries[2].raw, message(3), "the envelope line is dropped")
        resumed = self.read(data, kind="zip", start_index=2)
        self.assertEqual([e.index for e in resumed], [2])

    def test_not_a_zip(self):
        with self.assertRaises(archive.ArchiveError):
            self.read(b"PK\x03\x04 truncated", kind="zip")

    def test_eml_and_kind_detection(self):
        (entry,) = self.read(message(7), kind="eml")
        self.assertEqual(entry.raw, message(7))
        self.assertEqual(self.read(message(7), kind="eml", start_index=1), [])
        self.assertEqual(archive.detect_kind("export.MBOX", b""), "mbox")
        self.assertEqual(archive.detect_kind("x.zip", b""), "zip")
        self.assertEqual(archive.detect_kind("mail.eml", b""), "eml")
        self.assertEqual(archive.detect_kind("upload", b"PK\x03\x04..."), "zip")
        self.assertEqual(archive.detect_kind("upload", b"From a@b Mon"), "mbox")
        self.assertEqual(archive.detect_kind("upload", b"Received: from x\r\n"), "eml")
        self.assertIsNone(archive.detect_kind("report.pdf", b"%PDF-1.7"))
        self.assertEqual(archive.email_problem(b"\r\n"), "empty file")


if __name__ == "__main__":
    unittest.main()

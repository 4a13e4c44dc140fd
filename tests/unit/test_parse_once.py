"""Unit tests of tools/mime.parse_message: the same email as ``email.policy.SMTP`` gives,
each header text parsed once. No Odoo, no database."""

import email
import email.message
import email.policy
import importlib.util
import os
import sys
import unittest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", ".."))
from tools import mime  # noqa: E402


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "..", "..", path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


samples = _load("mail_converter_samples", "tests/samples.py")
corpus = _load("mail_converter_corpus", "bench/corpus.py")


def _view(message):
    """Everything Odoo's parser reads of an email, part by part."""
    parts = []
    for part in message.walk():
        row = [
            [(name, str(value)) for name, value in part.items()],
            part.get_content_type(),
            part.get_content_maintype(),
            part.get_filename(),
            part.get_content_charset(),
            part.get_param("charset"),
            part.get("content-disposition", ""),
            part.get("content-id"),
        ]
        if part.get_content_maintype() != "multipart":
            try:
                content = part.get_content()
                # message/rfc822: the inner email, compared by its text
                row.append(content.as_string() if hasattr(content, "as_string") else content)
            except (KeyError, LookupError) as exc:  # an unknown charset fails alike on both
                row.append(type(exc).__name__)
        parts.append(row)
    headers = [
        [str(v) for v in message.get_all(name) or []]
        for name in ("From", "To", "Cc", "Delivered-To", "Resent-To", "Resent-Cc", "Subject")
    ]
    return parts, headers, message.as_string()


class TestParseOnce(unittest.TestCase):
    def corpus(self):
        return samples.parsing_corpus() + corpus.generate(60, seed=5)

    def test_same_view_as_the_smtp_policy(self):
        for raw in self.corpus():
            reference = email.message_from_bytes(raw, policy=email.policy.SMTP)
            parsed = mime.parse_message(raw)
            self.assertIsInstance(parsed, email.message.EmailMessage)
            self.assertEqual(_view(parsed), _view(reference), raw[:200])

    def test_same_view_when_read_again(self):
        # The second email reads headers the first one cached: same values, same defects.
        for raw in self.corpus()[:20]:
            first, second = mime.parse_message(raw), mime.parse_message(raw)
            self.assertEqual(_view(first), _view(second))
            for a, b in zip(first.walk(), second.walk(), strict=True):
                self.assertEqual([v.defects for v in a.values()], [v.defects for v in b.values()])

    def test_headers_edited_after_parsing_are_read_anew(self):
        # Odoo's parser rewrites a bad Content-Type and sets a missing charset in place.
        message = mime.parse_message(b"Content-Type: text/plain\r\n\r\nhi\r\n")
        self.assertIsNone(message.get_param("charset"))
        message.set_charset("utf-8")
        self.assertEqual(message.get_content_charset(), "utf-8")
        message.replace_header("Content-Type", "application/octet-stream")
        self.assertEqual(message.get_content_type(), "application/octet-stream")

    def test_same_class_as_the_smtp_policy(self):
        # Odoo replaces email.policy.SMTP by a subclass that folds differently: kept.
        class NoFold(email.policy.EmailPolicy):
            def _fold(self, name, value, *args, **kwargs):
                return f"{name}: {value}{self.linesep}"

        long_from = b'From: "' + b"x" * 90 + b'" <a@example.com>\r\nSubject: s\r\n\r\nhi\r\n'
        smtp = email.policy.SMTP
        try:
            email.policy.SMTP = NoFold(linesep="\r\n")
            parsed = mime.parse_message(long_from)
            reference = email.message_from_bytes(long_from, policy=email.policy.SMTP)
        finally:
            email.policy.SMTP = smtp
        self.assertIsInstance(parsed.policy, NoFold)
        self.assertEqual(parsed.as_string(), reference.as_string())
        self.assertIn('" <a@example.com>\r\nSubject', parsed.as_string())  # not folded

    def test_cache_is_bounded(self):
        mime._parsed_header.cache_clear()
        for index in range(mime.HEADER_CACHE_SIZE + 10):
            raw = f"Content-Type: text/plain; name=a{index}.txt\r\n\r\n".encode()
            self.assertEqual(mime.parse_message(raw).get_filename(), f"a{index}.txt")
        self.assertEqual(mime._parsed_header.cache_info().currsize, mime.HEADER_CACHE_SIZE)

    def test_only_short_headers_are_kept(self):
        # A parsed header weighs about 200 times its text: crafted long ones are not kept.
        mime._parsed_header.cache_clear()
        long_name = "x" * mime.MAX_CACHED_HEADER
        raw = (
            f"To: a@example.com\r\nSubject: s\r\n"
            f'Content-Type: text/plain; name="{long_name}.txt"\r\n\r\nhi\r\n'
        ).encode()
        message = mime.parse_message(raw)
        self.assertEqual(message.get_filename(), f"{long_name}.txt")
        self.assertEqual((message["To"], message["Subject"]), ("a@example.com", "s"))
        # the short To and Subject are kept, the long Content-Type is not
        self.assertEqual(mime._parsed_header.cache_info().currsize, 2)
        self.assertEqual(message["To"].addresses[0].addr_spec, "a@example.com")
        self.assertEqual(mime._parsed_header.cache_info().hits, 1)


if __name__ == "__main__":
    unittest.main()

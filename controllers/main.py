"""The MTA pipe: a mail server posts one raw email for a converter mailbox.

``scripts/mail_converter_mailgate.py`` is the client. The answer's status tells
the mail server what to do: 200 delivered (or logged, e.g. as a duplicate),
403 refused, 413 too large, 503 try again later.
"""

import hmac
import logging

from odoo import SUPERUSER_ID, http
from odoo.http import request

_logger = logging.getLogger(__name__)

# Kept when the mailbox sets no size limit (Odoo refuses larger requests anyway).
PIPE_MAX_BYTES = 128 * 1024 * 1024


class MailConverterPipe(http.Controller):
    @http.route(
        "/mail_converter/pipe/<int:server_id>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def mail_converter_pipe(self, server_id, **_kwargs):
        env = request.env(user=SUPERUSER_ID)
        server = env["fetchmail.server"].browse(server_id).exists()
        given = request.httprequest.headers.get("X-Mail-Converter-Secret", "")
        expected = (server.converter_pipe_secret or "") if server.use_converter else ""
        # The same comparison whether the mailbox exists or not: nothing to learn by probing.
        if not hmac.compare_digest((expected or "\0").encode(), given.encode()) or not expected:
            _logger.warning("Mail converter pipe: refused a delivery to mailbox %s", server_id)
            return self._answer(403, "refused")
        limit = server.converter_max_size * 1024 * 1024 or PIPE_MAX_BYTES
        raw, size = self._read_body(limit)
        log = server._converter_pipe(raw, size)
        if log.too_large:
            return self._answer(413, f"too large, logged {log.id}")
        if server._converter_pipe_retry(log):
            # The log keeps the attempt (committed with the request); the mail server keeps
            # the email and tries again.
            return self._answer(503, f"failed, logged {log.id}; try again later")
        return self._answer(200, f"{log.state} {log.id}")

    def _read_body(self, limit):
        """At most ``limit`` + 1 bytes of the email (a header is all a larger one needs to be
        logged), and its full size. Odoo itself refuses bodies above its request limit."""
        data = request.httprequest.get_data(cache=False)
        return data[: limit + 1], len(data)

    def _answer(self, status, text):
        return request.make_response(
            f"mail_converter: {text}\n",
            headers=[("Content-Type", "text/plain; charset=utf-8")],
            status=status,
        )

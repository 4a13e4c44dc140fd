"""Per-email limits of a converter mailbox against parser bombs (C11)."""

import dataclasses

from odoo import fields, models

from ..tools import budget, mime


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    converter_time_budget = fields.Integer(
        "Time budget per email (s)",
        default=budget.DEFAULT_SECONDS,
        help="An email still being converted after this many seconds is logged as failed with "
        "the reason and retried later; the other emails go on. 0: no limit.",
    )
    converter_max_parts = fields.Integer(
        "Maximum MIME parts",
        default=mime.MAX_PARTS,
        help="An email with more parts is not imported: it is logged with the reason and stays "
        "on the mail server.",
    )

    def _converter_source(self):
        source = super()._converter_source()
        return dataclasses.replace(
            source,
            extra=dict(
                source.extra,
                time_budget=max(self.converter_time_budget, 0),
                max_parts=self.converter_max_parts if self.converter_max_parts > 0 else 0,
            ),
        )

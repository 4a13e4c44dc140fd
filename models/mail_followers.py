import copy

from odoo import models

from ..tools import rendezvous


class MailFollowers(models.Model):
    """Who a wave's messages notify, read once for the wave (``mail.converter.batch``)."""

    _inherit = "mail.followers"

    def _get_recipient_data(self, records, message_type, subtype_id, pids=None):
        meeting = rendezvous.current()  # inside a wave: read with the wave's other messages'
        if meeting is None or not self._converter_reads_with_wave(
            records, message_type, subtype_id
        ):
            return super()._get_recipient_data(records, message_type, subtype_id, pids=pids)
        return meeting.meet(("mail.followers", self, records, message_type, subtype_id, pids))

    def _converter_reads_with_wave(self, records, message_type, subtype_id):
        """Whether this question may be asked together with other records': one record's
        followers of a subtype (Odoo's first query, whose rows are each one record's or the
        same for all), through known classes only."""
        return bool(
            len(records) == 1
            and subtype_id
            and message_type != "user_notification"
            and self.env["mail.converter.batch"]._converter_bulk_allowed(self._name)
        )

    def _converter_recipient_data_now(self, records, message_type, subtype_id, pids):
        """Odoo's own ``_get_recipient_data`` (what a wave asks once for several records)."""
        return super()._get_recipient_data(records, message_type, subtype_id, pids=pids)

    def _converter_recipient_data_of(self, answer, record_id):
        """One record's part of an answer for several: its own copy, as if asked alone (Odoo
        shares a directly addressed partner's data among the records; the caller edits it)."""
        return {record_id: copy.deepcopy(answer[record_id])}

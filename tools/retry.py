"""The retry signal of the pipeline. No Odoo import."""


class ConverterRetry(Exception):  # noqa: N818 - a signal, as queue_job's RetryableJobError
    """Another worker's transaction got in the way of converting ``log``'s email.

    The failure is recorded on the row; converting the email again after a commit
    usually succeeds (as OCA queue_job's ``RetryableJobError``).
    """

    def __init__(self, log):
        super().__init__(log.message_id or log.message_key)
        self.log = log

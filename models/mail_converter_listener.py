from odoo import api, fields, models

from ..tools import idle

LISTENER_STATES = [
    (idle.STATE_WATCHING, "Watching (IDLE)"),
    (idle.STATE_POLLING, "Polling (the server has no IDLE)"),
    (idle.STATE_RECONNECTING, "Reconnecting"),
    (idle.STATE_STOPPED, "Stopped"),
]


class MailConverterListener(models.Model):
    """The health of a mailbox's Instant delivery listener, one row per mailbox.

    Kept apart from the mailbox's row: the listener never writes where a fetch
    holds its lock, so it never waits for a fetch nor makes one skip its turn.
    """

    _name = "mail.converter.listener"
    _description = "Mail converter instant delivery listener"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    state = fields.Selection(LISTENER_STATES, required=True)
    error = fields.Text()
    host = fields.Char(help="The listener process (host:pid) that watches this mailbox.")
    state_date = fields.Datetime("Since")

    _server_unique = models.Constraint("UNIQUE(server_id)", "One listener row per mailbox.")

    @api.model
    def _converter_report(self, server_id, state, error, host):
        """Record a new state of ``server_id``'s listener (called only when it changes)."""
        values = {
            "state": state,
            "error": error or False,
            "host": host,
            "state_date": fields.Datetime.now(),
        }
        row = self.sudo().search([("server_id", "=", server_id)], limit=1)
        if row:
            row.write(values)
        else:
            self.sudo().create(dict(values, server_id=server_id))

"""Helpdesk teams: their own time for reopening closed tickets by email."""

from odoo import fields, models


class HelpdeskTicketTeam(models.Model):
    _inherit = "helpdesk.ticket.team"

    mail_converter_reopen_days = fields.Integer(
        "Reopen closed tickets for (days)",
        help="A customer's reply within this many days of a ticket's closing reopens it; a "
        "later reply opens a new ticket linked to the old one. Empty: the mailbox's setting.",
    )

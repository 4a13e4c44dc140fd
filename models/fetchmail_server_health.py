"""The mailbox's health: last run, last error, backoff, alert, dashboard.

A failing mailbox keeps its error and is retried later and later (up to
BACKOFF_MAX_FACTOR times its interval) instead of being switched off as stock
fetchmail does: it recovers by itself, and its responsible is told once.
"""

import json
import logging
from collections import Counter
from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.addons.base.models.ir_cron import _intervalTypes
from odoo.tools.misc import format_date

_logger = logging.getLogger(__name__)

# How far failures push the next attempt back, and when someone is told.
BACKOFF_MAX_FACTOR = 16
ALERT_AFTER = timedelta(hours=24)
GRAPH_DAYS = 14


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    # A failing mailbox keeps its error here and is retried later and later (up to
    # BACKOFF_MAX_FACTOR times its interval) instead of being switched off as stock
    # fetchmail does: it recovers by itself, and its responsible is told once.
    converter_last_run = fields.Datetime(
        "Last run", readonly=True, copy=False, help="When the converter last read this mailbox."
    )
    converter_last_error = fields.Text(
        "Last error",
        readonly=True,
        copy=False,
        help="Why the last run failed (login refused, server unreachable, TLS...). "
        "Cleared by the next successful run.",
    )
    converter_last_error_date = fields.Datetime("Last error on", readonly=True, copy=False)
    converter_failing_since = fields.Datetime(
        "Failing since", readonly=True, copy=False, help="First failure of the current series."
    )
    converter_failure_count = fields.Integer(
        "Failures in a row", readonly=True, copy=False, default=0
    )
    converter_alert_sent = fields.Boolean(readonly=True, copy=False)
    converter_responsible_id = fields.Many2one(
        "res.users",
        "Responsible",
        domain=lambda self: [
            ("share", "=", False),
            ("all_group_ids", "in", self.env.ref("mail_converter.group_mail_converter_manager").id),
        ],
        help="Gets a to-do when the mailbox has failed for 24 hours. Empty: every Settings "
        "administrator.",
    )
    converter_next_run = fields.Datetime(
        "Next run",
        compute="_compute_converter_next_run",
        help="When the mail scheduler will read this mailbox next: its check interval, "
        "or later while it is failing.",
    )
    converter_health = fields.Selection(
        [("ok", "Healthy"), ("failing", "Failing"), ("off", "Not running")],
        compute="_compute_converter_health",
    )
    converter_health_color = fields.Integer(compute="_compute_converter_health")
    converter_done_count_24h = fields.Integer(
        "Converted (24 h)", compute="_compute_converter_counts_24h"
    )
    converter_failed_count_24h = fields.Integer(
        "Failed (24 h)", compute="_compute_converter_counts_24h"
    )
    converter_other_count_24h = fields.Integer(
        "Skipped (24 h)", compute="_compute_converter_counts_24h"
    )
    converter_graph = fields.Text(
        compute="_compute_converter_graph", help="Emails logged per day over 14 days, as JSON."
    )

    @api.depends("use_converter", "active", "state", "converter_last_error")
    def _compute_converter_health(self):
        colors = {"ok": 10, "failing": 1, "off": 0}
        for server in self:
            if not (server.use_converter and server.active and server.state == "done"):
                health = "off"
            else:
                health = "failing" if server.converter_last_error else "ok"
            server.converter_health = health
            server.converter_health_color = colors[health]

    @api.model
    def _converter_log_state_groups(self):
        """How the dashboard groups log states: converted, failed, and everything else (skipped)."""
        return {"done": "done", "failed": "failed"}

    @api.depends("converter_log_ids.state")
    def _compute_converter_counts_24h(self):
        groups = self._converter_log_state_groups()
        counts = Counter()
        if self.ids:
            for server, state, count in self.env["mail.converter.log"]._read_group(
                [
                    ("server_id", "in", self.ids),
                    ("create_date", ">=", fields.Datetime.now() - timedelta(hours=24)),
                ],
                ["server_id", "state"],
                ["__count"],
            ):
                counts[server.id, groups.get(state, "other")] += count
        for server in self:
            server.converter_done_count_24h = counts[server.id, "done"]
            server.converter_failed_count_24h = counts[server.id, "failed"]
            server.converter_other_count_24h = counts[server.id, "other"]

    @api.depends("converter_log_ids.state")
    def _compute_converter_graph(self):
        groups = self._converter_log_state_groups()
        today = fields.Date.context_today(self)
        days = [today - timedelta(days=n) for n in range(GRAPH_DAYS - 1, -1, -1)]
        counts = Counter()
        if self.ids:
            for server, day, state, count in self.env["mail.converter.log"]._read_group(
                [
                    ("server_id", "in", self.ids),
                    ("create_date", ">=", fields.Datetime.now() - timedelta(days=GRAPH_DAYS + 1)),
                ],
                ["server_id", "create_date:day", "state"],
                ["__count"],
            ):
                day = day.date() if hasattr(day, "date") else day
                counts[server.id, day, groups.get(state, "other")] += count
        labels = [format_date(self.env, day, date_format="d MMM") for day in days]
        series = [
            ("done", self.env._("Converted")),
            ("failed", self.env._("Failed")),
            ("other", self.env._("Skipped")),
        ]
        for server in self:
            server.converter_graph = json.dumps(
                {
                    "labels": labels,
                    "series": [
                        {
                            "key": key,
                            "label": label,
                            "values": [counts[server.id, day, key] for day in days],
                        }
                        for key, label in series
                    ],
                }
            )

    @api.depends(
        "use_converter",
        "active",
        "state",
        "check_interval",
        "date",
        "converter_last_run",
        "converter_last_error_date",
        "converter_failure_count",
    )
    def _compute_converter_next_run(self):
        cron = self.env.ref("mail.ir_cron_mail_gateway_action", raise_if_not_found=False)
        cron = cron.sudo() if cron else cron
        for server in self:
            running = server.use_converter and server.active and server.state == "done"
            if not (running and cron and cron.active and cron.nextcall):
                server.converter_next_run = False
                continue
            next_call, due = cron.nextcall, server._converter_due_at()
            step = _intervalTypes[cron.interval_type](cron.interval_number)
            # The scheduler's first run at which the mailbox is due (the same minute of slack).
            for _i in range(10000):
                if not due or due <= next_call + timedelta(minutes=1):
                    break
                next_call += step
            server.converter_next_run = next_call

    def _converter_base_interval(self):
        """Minutes between two runs: the mailbox's check interval, else the mail scheduler's."""
        self.ensure_one()
        if self.check_interval:
            return self.check_interval
        cron = self.env.ref("mail.ir_cron_mail_gateway_action", raise_if_not_found=False)
        if not cron:
            return 5
        cron = cron.sudo()
        now = fields.Datetime.now()
        step = _intervalTypes[cron.interval_type](cron.interval_number)
        return max(int((now + step - now).total_seconds() // 60), 1)

    def _converter_backoff(self):
        """How long to wait after ``converter_failure_count`` failures in a row: the interval,
        doubled at each further failure, at most BACKOFF_MAX_FACTOR times it."""
        self.ensure_one()
        failures = max(self.converter_failure_count, 1)
        factor = min(2 ** (failures - 1), BACKOFF_MAX_FACTOR)
        return timedelta(minutes=self._converter_base_interval() * factor)

    def _converter_due_at(self):
        """When the mailbox is next due; ``False`` when it is due at every scheduler run."""
        self.ensure_one()
        if self.converter_last_error and self.converter_last_error_date:
            return self.converter_last_error_date + self._converter_backoff()
        last = self.converter_last_run or self.date
        if self.check_interval and last:
            return last + timedelta(minutes=self.check_interval)
        return False

    def _converter_record_success(self):
        """A run went through: forget the failure series and close the alert."""
        if self.converter_alert_sent:
            self._converter_close_alert()
        healthy = {
            "error_date": False,
            "error_message": False,
            "converter_last_error": False,
            "converter_last_error_date": False,
            "converter_failing_since": False,
            "converter_failure_count": 0,
            "converter_alert_sent": False,
        }
        # Written only when it changes: a healthy mailbox's quiet run writes nothing.
        if any(self[name] != value for name, value in healthy.items()):
            self.write(healthy)

    def _converter_record_error(self, exc):
        """Show the failure on the mailbox, back off, and tell its responsible after a day."""
        message = tools.exception_to_unicode(exc)
        now = fields.Datetime.now()
        since = self.converter_failing_since or now
        self.write(
            {
                "error_date": self.error_date or now,
                "error_message": message,
                "converter_last_error": message,
                "converter_last_error_date": now,
                "converter_failing_since": since,
                "converter_failure_count": self.converter_failure_count + 1,
            }
        )
        if not self.converter_alert_sent and since <= now - ALERT_AFTER:
            self._converter_send_alert()

    def _converter_alert_users(self):
        """Who is told that the mailbox keeps failing; override to tell someone else."""
        self.ensure_one()
        if self.converter_responsible_id:
            return self.converter_responsible_id
        return (
            self.env.ref("base.group_system")
            .sudo()
            .all_user_ids.filtered(lambda u: u.active and not u.share)
        )

    def _converter_send_alert(self):
        """One to-do per responsible for the whole failure series, never one per run."""
        self.ensure_one()
        note = self.env._(
            "The mail converter could not read %(mailbox)s since %(since)s: %(error)s",
            mailbox=self.name,
            since=self.converter_failing_since,
            error=self.converter_last_error,
        )
        for user in self._converter_alert_users():
            try:
                with self.env.cr.savepoint():
                    self.sudo().activity_schedule(
                        "mail.mail_activity_data_warning",
                        summary=self.env._("Mailbox %(mailbox)s is failing", mailbox=self.name),
                        note=note,
                        user_id=user.id,
                    )
            except Exception:  # noqa: BLE001 - the alert must never hide the error itself
                _logger.warning(
                    "Mail converter: could not alert %s about %s",
                    user.login,
                    self.name,
                    exc_info=True,
                )
        self.converter_alert_sent = True

    def _converter_close_alert(self):
        """The mailbox recovered: its failure to-dos are done."""
        warning = self.env.ref("mail.mail_activity_data_warning", raise_if_not_found=False)
        activities = self.sudo().activity_ids.filtered(
            lambda a: warning and a.activity_type_id == warning
        )
        if activities:
            activities.action_feedback(
                feedback=self.env._("The mailbox works again: %(date)s", date=fields.Datetime.now())
            )

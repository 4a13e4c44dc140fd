"""Where the time of one email goes: exclusive time per stage, for stock and for the converter.

Installed in a benchmark process only (never in the module): it wraps a few
methods of the running registry's classes with timers. Time is exclusive: a
stage called inside another (posting inside record creation) is counted once,
in the innermost stage, so the stages add up to the run's wall time.
"""

import os
import time
import traceback
from collections import Counter, defaultdict

import greenlet

from odoo.sql_db import Cursor


class StageClock:
    """Exclusive time per stage. The converter applies a wave's emails side by side in
    greenlets (``tools.rendezvous``): each greenlet has its own stack of stages, and a
    stage's clock stops while its greenlet is switched out."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.queries = defaultdict(int)
        # greenlet -> [[stage, start, child seconds, queries at start, child queries,
        #               paused seconds, paused queries]]
        self.stacks = {}
        self.switched_out = {}  # greenlet -> (time, query count) when it was switched out
        self.query_count = 0
        greenlet.settrace(self._switched)

    @property
    def stack(self):
        return self.stacks.setdefault(greenlet.getcurrent(), [])

    def _switched(self, event, args):
        if event not in ("switch", "throw"):
            return
        origin, target = args
        now = time.perf_counter()
        if self.stacks.get(origin):
            self.switched_out[origin] = (now, self.query_count)
        since = self.switched_out.pop(target, None)
        if since is not None:
            for entry in self.stacks.get(target, ()):
                entry[5] += now - since[0]
                entry[6] += self.query_count - since[1]

    def enter(self, stage):
        self.stack.append([stage, time.perf_counter(), 0.0, self.query_count, 0, 0.0, 0])

    def leave(self):
        stack = self.stack
        stage, start, children, queries_at_start, child_queries, paused, paused_queries = (
            stack.pop()
        )
        elapsed = time.perf_counter() - start - paused
        queries = self.query_count - queries_at_start - paused_queries
        self.seconds[stage] += elapsed - children
        self.queries[stage] += queries - child_queries
        if stack:
            stack[-1][2] += elapsed
            stack[-1][4] += queries
        else:
            self.stacks.pop(greenlet.getcurrent(), None)

    def wrap(self, owner, name, stage):
        original = getattr(owner, name, None)
        if original is None:
            return
        clock = self

        if getattr(original, "__wrapped_stage__", None):
            return

        def timed(*args, **kwargs):
            clock.enter(stage)
            try:
                return original(*args, **kwargs)
            finally:
                clock.leave()

        def timed_generator(*args, **kwargs):
            iterator = original(*args, **kwargs)
            while True:
                clock.enter(stage)
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    clock.leave()
                yield item

        wrapper = timed_generator if name in ("retrieve", "retrieve_unread_messages") else timed
        wrapper.__wrapped_stage__ = stage
        setattr(owner, name, wrapper)

    def count_queries(self):
        original = Cursor.execute
        clock = self
        # MC_BENCH_TRACE=<text>[||<text>...]: which code paths issue the queries containing <text>.
        trace = [t for t in os.environ.get("MC_BENCH_TRACE", "").split("||") if t]
        self.traces = Counter()
        # MC_BENCH_SQLSTATS=1: count queries by shape.
        self.shapes = Counter() if os.environ.get("MC_BENCH_SQLSTATS") else None
        self.shape_seconds = defaultdict(float)

        def execute(cr, query, params=None, log_exceptions=True):
            clock.query_count += 1
            if clock.shapes is not None:
                text = query.code if hasattr(query, "code") else str(query)
                shape = " ".join(text.split())[:120]
                clock.shapes[shape] += 1
                start = time.perf_counter()
                try:
                    return original(cr, query, params, log_exceptions)
                finally:
                    clock.shape_seconds[shape] += time.perf_counter() - start
            hit = None
            if trace:
                text = query.code if hasattr(query, "code") else str(query)
                hit = next((t for t in trace if t in text), None)
            if hit:
                frames = [
                    f"{os.path.basename(f.filename)}:{f.lineno} {f.name}"
                    for f in traceback.extract_stack()[-14:-2]
                    if "/odoo/orm/" not in f.filename
                ]
                clock.traces[f"[{hit[:30]}] " + " < ".join(reversed(frames[-6:]))] += 1
            return original(cr, query, params, log_exceptions)

        Cursor.execute = execute

    def report(self, total_seconds, emails, total_queries=None):
        """Rows ``(stage, ms per email, share, queries per email)``, the rest as *other*."""
        known = sum(self.seconds.values())
        rows = [
            (stage, 1000 * secs / emails, secs / total_seconds, self.queries[stage] / emails)
            for stage, secs in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        ]
        other_queries = (
            (total_queries - sum(self.queries.values())) / emails if total_queries else 0
        )
        rows.append(
            (
                "other",
                1000 * (total_seconds - known) / emails,
                1 - known / total_seconds,
                other_queries,
            )
        )
        return rows


STOCK_STAGES = [
    # (model or "connection", method, stage)
    ("connection", "retrieve_unread_messages", "fetch"),
    ("mail.thread", "message_parse", "parse"),
    ("mail.thread", "message_route", "route and dedupe"),
    ("helpdesk.ticket", "message_new", "create record"),
    ("helpdesk.ticket", "message_update", "update record"),
    ("helpdesk.ticket", "message_post", "post message"),
    ("helpdesk.ticket", "_process_attachments_for_post", "attachments"),
    ("helpdesk.ticket", "_notify_thread", "followers and notifications"),
    ("helpdesk.ticket", "_message_subscribe", "followers and notifications"),
    ("cursor", "commit", "commit"),
]

CONVERTER_STAGES = STOCK_STAGES[1:] + [
    ("mailbox", "retrieve", "fetch"),
    ("mail.converter", "_log_register", "dedupe and log"),
    ("mail.converter.reader", "_converter_match", "match"),
    ("mail.converter.planner", "_converter_plan", "decide"),
    ("res.partner", "message_post", "post message"),
    ("crm.lead", "message_post", "post message"),
    ("mail.converter", "_apply_contacts", "create contacts"),
    ("mail.converter", "_apply_auto_reply", "acknowledgement"),
    ("mail.thread", "_routing_reset_bounce", "reset bounce counters"),
    ("mail.thread", "_message_parse_post_process", "parse"),
    ("mail.converter.planner", "_plan_loop", "loop guard"),
    ("mail.converter.planner", "_plan_privacy", "privacy"),
    ("mail.converter.planner", "_plan_auto_reply", "acknowledgement"),
    ("mail.converter", "_link_commands", "log and links"),
]


def install(env, phase):
    """Wrap the stages of ``phase`` in the registry of ``env``; return the clock."""
    from odoo.addons.mail.models.fetchmail import OdooIMAP4

    clock = StageClock()
    clock.count_queries()
    stages = CONVERTER_STAGES if phase == "converter" else STOCK_STAGES
    for owner, name, stage in stages:
        if owner == "connection":
            clock.wrap(OdooIMAP4, name, stage)
        elif owner == "cursor":
            clock.wrap(Cursor, name, stage)
        elif owner == "mailbox":
            from odoo.addons.mail_converter.tools.connection import ImapMailbox

            clock.wrap(ImapMailbox, name, stage)
        elif owner in env:
            clock.wrap(type(env[owner]), name, stage)
    return clock

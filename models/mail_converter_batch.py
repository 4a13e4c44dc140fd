"""A fetched batch, planned together and applied in waves.

Every email of the batch is logged exactly once and planned first, writing
nothing. The emails that do not depend on one another (``tools.waves``) form a
wave, applied together: the wave's new contacts in one ``create``, its new
tickets and leads in one ``create`` per model, with the values Odoo's own
``message_new`` chain decides for each, then each email's message and the rest
of its plan, the emails side by side (``tools.rendezvous``) so that their
messages are created in one ``create`` and whom they notify is read once. An
email that depends on an earlier one waits for
the next wave and is planned again once that one is applied, so the outcome is
the one email at a time gives (``tests/test_batch.py`` compares both).

A wave runs in one savepoint. On any error it is rolled back and its emails go
through the one-email path (``mail.converter._convert_logged``), each in its
own savepoint, as if batching did not exist.
"""

import functools
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from odoo import Command, api, models, tools

from ..tools import addresses, rendezvous, waves
from ..tools.connection import Unreadable
from ..tools.prefetch import Prefetch
from ..tools.retry import ConverterRetry
from ..tools.run_cache import RunCache
from ..tools.wave_memo import WaveMemo
from . import email_split_memo

_logger = logging.getLogger(__name__)

# The classes (by module) whose versions of Odoo's gateway methods a wave is known to give
# the same result as one email at a time: the MRO of these models on a standard install
# with this module. Another module overriding one of them sends the emails one by one.
BULK_METHODS = (
    "create",
    "message_new",
    "message_update",
    "message_post",
    "_message_create",
    "_message_post_after_hook",
    "_notify_thread",
    "_message_auto_subscribe_followers",
    "_get_recipient_data",
)
BULK_MODULES = frozenset(
    {
        "base",
        "mail",
        "sms",
        "phone_validation",
        "portal",
        "rating",
        "utm",
        "sales_team",
        "crm",
        "crm_sms",
        "crm_mail_plugin",
        "helpdesk_mgmt",
        "mail_converter",
        "mail_bot",
        "mail_plugin",
        "snailmail",
        "calendar",
        "partner_autocomplete",
        "contacts",
        "account",
        "iap_mail",
        "privacy_lookup",
        "microsoft_outlook",
        "google_gmail",
    }
)


@dataclass
class Entry:
    """One email of the batch, from its log row to its plan."""

    index: int
    raw: bytes
    origin: object
    summary: object = None
    log: object = None
    mail: object = None
    plan: object = None
    bulk: object = None  # its tools.waves.BulkCreate, when its record is made in bulk
    contacts: dict = field(default_factory=dict)


class MailConverterBatch(models.AbstractModel):
    _name = "mail.converter.batch"
    _description = "Mail converter: a fetched batch applied in waves"

    @api.model
    def _converter_batch_enabled(self):
        """Whether fetched batches are applied in waves (system parameter
        ``mail_converter.batch_apply``, on unless ``0``)."""
        value = self.env["ir.config_parameter"].sudo().get_param("mail_converter.batch_apply")
        return (value or "1").strip() != "0"

    @api.model
    def _converter_process_many(self, items, source):
        """Convert ``items`` (``[(raw, origin)]``, in the server's order) exactly once each;
        return, for each, its log row, ``None`` (not even logged) or the
        :class:`ConverterRetry` of an email that collided with another worker."""
        # Odoo's gateway splits the same address headers about 30 times an email.
        with email_split_memo.remembered():
            return self._converter_process_batch(items, source)

    @api.model
    def _converter_process_batch(self, items, source):
        """:meth:`_converter_process_many`, inside the batch's memo of address splits."""
        results = [None] * len(items)
        entries = []
        prefetch = Prefetch()
        Converter = self.env["mail.converter"].with_context(mail_converter_prefetch=prefetch)
        summaries, unseen = self._converter_look_up(items, source, prefetch)
        try:
            # The batch's new emails claimed in one insert; any trouble: each claims its own.
            claimed = Converter._log_claim_many(
                [
                    (summary, origin)
                    for summary, (_raw, origin) in zip(summaries, items, strict=True)
                    if summary and summary.key in unseen
                ],
                source,
            )
        except Exception:  # noqa: BLE001 - logged and claimed one by one below
            _logger.debug("Mail converter: claiming a batch at once failed", exc_info=True)
            claimed = {}
        for index, (raw, origin) in enumerate(items):
            log = summaries[index] and claimed.get(summaries[index].key)
            begin = functools.partial(
                Converter._converter_begin,
                raw,
                source,
                origin,
                summary=summaries[index],
                unseen=bool(summaries[index]) and summaries[index].key in unseen,
                claimed=log,
            )
            try:
                if log:
                    # Claimed: beginning writes only for a too large email, in a savepoint of
                    # its own; a failure leaves the row failed, retried next run.
                    summary, log, convert = begin()
                else:
                    with self.env.cr.savepoint():
                        if isinstance(raw, Unreadable):
                            results[index] = Converter._process_unreadable(raw, source, origin)
                            continue
                        summary, log, convert = begin()
            except Exception:  # noqa: BLE001 - one message never stops the others
                _logger.exception("Mail converter: a message could not be logged")
                continue
            if convert:
                entries.append(Entry(index, raw, origin, summary=summary, log=log))
            else:
                results[index] = Converter._converter_finish(log, origin)
        todo = entries
        while todo:
            wave, todo = self._converter_next_wave(todo, source)
            for entry, outcome in self._converter_apply_wave(wave, source):
                results[entry.index] = outcome
        return results

    @api.model
    def _converter_look_up(self, items, source, prefetch=None):
        """Summaries of ``items`` and the keys the log has no row for, in one query: a key
        found once in the batch and not in the log is claimed without a look-up of its own.
        ``prefetch`` (:class:`tools.prefetch.Prefetch`) also gets what logging the batch
        asks of every email: the privacy flags of its addresses."""
        Converter = self.env["mail.converter"]
        summaries = []
        for raw, _origin in items:
            try:
                summaries.append(
                    None
                    if isinstance(raw, Unreadable)
                    else Converter._converter_summarize(raw, source)
                )
            except Exception:  # noqa: BLE001 - summarized again, and logged, one by one
                summaries.append(None)
        if prefetch is not None:
            self._converter_prefetched(
                self._converter_prefetch_batch, [s for s in summaries if s], source, prefetch
            )
        keys = Counter(s.key for s in summaries if s)
        single = [key for key, count in keys.items() if count == 1]
        if not single:
            return summaries, set()
        logged = (
            self.env["mail.converter.log"]
            .sudo()
            .search_fetch(
                [
                    ("message_key", "in", single),
                    ("state", "!=", "duplicate"),
                    ("company_id", "=", source.company_id or False),
                ],
                ["message_key"],
            )
        )
        return summaries, set(single) - set(logged.mapped("message_key"))

    @api.model
    def _converter_prefetched(self, method, *args):
        """``method(*args)`` in a savepoint; its :class:`Prefetch`, or an empty one when it
        failed: then every email asks the database for itself, as without a batch."""
        try:
            with self.env.cr.savepoint():
                return method(*args)
        except Exception:  # noqa: BLE001 - a look-up ahead never stops the batch
            _logger.warning("Mail converter: reading ahead for a batch failed", exc_info=True)
            return Prefetch()

    @api.model
    def _converter_prefetch_batch(self, summaries, source, prefetch):
        """Ask once, for the whole batch, what logging and planning ask of each email: the
        privacy flags of its addresses (into ``prefetch``) and which of them are Odoo's
        aliases (into the run's cache, which Odoo's own parsing asks too)."""
        self.env["mail.converter"]._converter_prefetch_flagged(summaries, prefetch)
        emails = list(
            dict.fromkeys(
                a.email for summary in summaries for a in addresses.collect(summary.address_headers)
            )
        )
        # In the run's cache, whose alias domains Odoo's own look-up reads too.
        self.env["mail.converter.planner"].with_context(
            mail_converter_run_cache=RunCache.of(source)
        )._converter_aliases(emails, source)

    @api.model
    def _converter_next_wave(self, todo, source):
        """Split ``todo`` into the next wave (planned) and the emails that wait (unplanned).

        First from the headers alone, conservatively (an email waits behind any earlier one
        that shares an address or a thread with it), so an email that waits is not planned
        in vain; then from the plans of the rest (the records they target, the automatic
        replies they send).
        """
        now, later = waves.first_wave([self._converter_header_footprint(e, source) for e in todo])
        candidates = [todo[i] for i in now]
        self._converter_plan_all(candidates, source)
        planned_now, planned_later = waves.first_wave(
            [self._converter_footprint(e, source) for e in candidates],
            self._converter_budgets(source),
        )
        waiting = [todo[i] for i in later] + [candidates[i] for i in planned_later]
        return [candidates[i] for i in planned_now], sorted(waiting, key=lambda e: e.index)

    @api.model
    def _converter_contact_roles(self, entry, source):
        """The headers whose unknown addresses the email may create contacts for (a superset of
        what ``_plan_contacts`` and ``_plan_cc_followers`` create; override with them)."""
        roles = {"from"}
        if source.cc_followers == "all":
            roles.add("cc")
        if entry.origin.direction != "inbound":
            roles |= {"to", "cc", "bcc"}
        return roles

    @api.model
    def _converter_header_footprint(self, entry, source):
        """What an email may read or change, from its headers only: every address it names
        (except the mailbox's own), its sender and its thread."""
        summary = entry.summary
        own = source.own_addresses | source.mailbox_addresses
        found = [a for a in addresses.collect(summary.address_headers) if a.email not in own]
        roles = self._converter_contact_roles(entry, source)
        references = tools.mail.unfold_references(summary.headers.get("references") or "")
        references += tools.mail.unfold_references(summary.headers.get("in-reply-to") or "")
        return waves.footprint(
            sender=next((a.email for a in found if a.role == "from"), ""),
            addresses=[a.email for a in found],
            new_contacts=[a.email for a in found if a.role in roles],
            target=None,
            message_id=summary.message_id,
            references=references,
        )

    # -- planning ---------------------------------------------------------------------
    @api.model
    def _converter_plan_all(self, entries, source):
        """Read and plan each email, writing nothing; one that cannot be planned is left
        without a plan and goes the one-email way (which records why)."""
        prefetch = self._converter_prefetched(self._converter_prefetch_round, entries, source)
        Converter = self.env["mail.converter"].with_context(
            mail_converter_run_cache=RunCache.of(source), mail_converter_prefetch=prefetch
        )
        for entry in entries:
            entry.mail = entry.plan = entry.bulk = None
            entry.contacts = {}
            try:
                entry.mail, entry.plan = Converter._converter_read_plan(
                    entry.raw, entry.summary, source, entry.origin, entry.log
                )
            except Exception:  # noqa: BLE001 - converted alone, where the failure is logged
                _logger.debug("Mail converter: planning in a batch failed", exc_info=True)

    @api.model
    def _converter_prefetch_round(self, entries, source):
        """What planning ``entries`` asks of each email, read once for all of them: the
        records their addresses match and whether those contacts' privacy flags make mail
        private, whether their Message-IDs are in Odoo already, the messages they answer,
        the companies of their domains, whether Odoo's loop guard lets their senders
        through. Valid for this planning round only (applying a wave changes them)."""
        prefetch = Prefetch()
        emails = [
            a.email for entry in entries for a in addresses.collect(entry.summary.address_headers)
        ]
        self.env["mail.converter.reader"]._converter_prefetch_match(emails, source, prefetch)
        # Whether the matched contacts (and their companies) make mail private.
        matched = {
            partner_id
            for email in emails
            for row in prefetch.get("match", email) or ()
            if row[0] == "res.partner"
            for partner_id in (row[1], row[5])
        }
        self.env["mail.converter.privacy"]._converter_prefetch_flag_holders(matched, prefetch)
        self.env["mail.converter.planner"]._converter_prefetch_in_odoo(
            [entry.summary.message_id for entry in entries], prefetch
        )
        self.env["mail.converter.conversation"]._converter_prefetch_replied(
            [entry.summary for entry in entries], prefetch
        )
        self.env["mail.converter.planner"]._converter_prefetch_companies(
            {addresses.email_domain(email) for email in emails}, source, prefetch
        )
        self.env["mail.gateway.allowed"]._converter_prefetch_allowed(emails, prefetch)
        return prefetch

    @api.model
    def _converter_budgets(self, source):
        """Budgets the emails of a wave share: the automatic replies the mailbox may still send
        this hour (every email planned to send one saw the same count)."""
        if not source.server_id:
            return {}
        Ack = self.env["mail.converter.acknowledgement"]
        sent = len(Ack._converter_hourly_reply_log_ids(source.server_id))
        left = source.auto_reply_hourly_cap - sent
        return {("auto_reply", source.server_id): max(left, 0)}

    @api.model
    def _converter_replies_to(self, plan):
        """Addresses the plan sends an automatic reply to (acknowledgement, BCC explanation)."""
        replies = []
        if plan.auto_reply is not None and plan.auto_reply.yes:
            replies.append(plan.auto_reply.detail.get("to"))
        bcc = getattr(plan, "bcc", None)
        if bcc is not None and bcc.explanation is not None and bcc.explanation.yes:
            replies.append(bcc.explanation.detail.get("to") or bcc.sender)
        return [r for r in replies if r]

    @api.model
    def _converter_footprint(self, entry, source):
        """What the email's plan read and what applying it changes (:func:`tools.waves.footprint`)."""
        if entry.plan is None:
            # Unplanned: alone in its wave, after everything before it.
            return waves.Footprint(claims={("unplanned", entry.index)}, needs={("any",)})
        mail, plan = entry.mail, entry.plan
        route = plan.route
        msg_dict = mail.msg_dict
        references = tools.mail.unfold_references(msg_dict.get("references") or "")
        references += tools.mail.unfold_references(msg_dict.get("in_reply_to") or "")
        replies = self._converter_replies_to(plan)
        return waves.footprint(
            sender=self.env["mail.converter.planner"]._converter_sender(mail) or "",
            addresses=[a.email for a in mail.matches.addresses],
            new_contacts=[new.address.email for new in plan.contacts],
            target=(route.model, route.res_id) if route and route.res_id else None,
            message_id=entry.summary.message_id,
            references=references,
            replies_to=replies,
            counts=[("auto_reply", source.server_id)] if replies else [],
        )

    # -- applying a wave ----------------------------------------------------------------
    @api.model
    def _converter_apply_wave(self, wave, source):
        """Apply ``wave`` in bulk, or one email at a time after any error; yield each entry
        with its outcome (log row or :class:`ConverterRetry`)."""
        Converter = self.env["mail.converter"].with_context(
            mail_converter_run_cache=RunCache.of(source)
        )
        planned = [e for e in wave if e.plan is not None]
        if len(planned) > 1 and len(planned) == len(wave):
            memo = WaveMemo(self.env.cr, self._converter_memo_models())
            # One context for the whole wave: its emails share their environments.
            wave_context = {
                "mail_converter_wave_memo": memo,
                "mail_converter_bulk": waves.BulkSlot(),
                "mail_converter_posted": waves.Posted(),
            }
            try:
                with self.env.cr.savepoint():
                    Wave = self.with_context(**wave_context)
                    Wave._converter_bulk_contacts(planned, source)
                    Wave._converter_memo_start(planned, memo)
                    Wave._converter_bulk_records(planned, source)
                    Wave._converter_memo_targets(planned, memo)
                    WaveConverter = Converter.with_context(**wave_context)
                    # Side by side, so that their messages are created at once (_converter_meet).
                    found = rendezvous.run_together(
                        [
                            functools.partial(Wave._converter_apply_one, WaveConverter, e, source)
                            for e in planned
                        ],
                        Wave._converter_meet,
                    )
                    self._converter_bulk_links([link for links in found for link in links])
            except Exception as exc:  # noqa: BLE001 - the wave goes one email at a time
                memo.close()
                _logger.info(
                    "Mail converter: a wave of %s emails is converted one by one: %s",
                    len(wave),
                    exc,
                    exc_info=_logger.isEnabledFor(logging.DEBUG),
                )
                for entry in wave:
                    entry.log.invalidate_recordset()
                    yield entry, self._converter_apply_alone(Converter, entry, source)
                return
            memo.close()
            for entry in planned:
                yield entry, Converter._converter_finish(entry.log, entry.origin)
            return
        for entry in wave:
            # Alone in its wave, its plan was made from the current state, as one by one.
            alone = len(wave) == 1 and entry.plan is not None
            planned_now = (entry.mail, entry.plan) if alone else None
            yield entry, self._converter_apply_alone(Converter, entry, source, planned_now)

    @api.model
    def _converter_apply_one(self, Converter, entry, source):
        """Carry out one planned email of a wave and finish its log row (inside the wave);
        return the values of its links, created with the wave's (:meth:`_converter_bulk_links`)."""
        if entry.bulk is not None:
            entry.bulk.capturing = False
        slot = self._converter_bulk_slot(Converter)
        Converter = Converter.with_context(mail_converter_bulk=slot)  # the same, in a wave
        with slot.holding(entry.bulk):
            values = Converter._converter_apply(
                entry.plan, entry.mail, source, entry.log, new_contacts=entry.contacts
            )
        if entry.bulk is not None and entry.bulk.left():
            raise waves.BulkMismatch(entry.summary.message_id)
        entry.mail.budget.check("apply")
        commands = values.pop("link_ids", [])
        links = [dict(c[2], log_id=entry.log.id) for c in commands if c[0] == Command.CREATE]
        others = [c for c in commands if c[0] != Command.CREATE]
        if others:  # an override's own commands are written as it gave them
            values["link_ids"] = others
        entry.log.write(dict({"too_large": False}, **values, error=False))
        Converter._keep_original(entry.log, entry.raw, source)
        return links

    # -- what a wave's emails ask side by side, done once (tools.rendezvous) --------------
    @api.model
    def _converter_meet(self, requests):
        """Answer, in order, what the emails of a wave waiting side by side ask:
        ``("mail.message", thread, values_list)``, a ``_message_create`` (see
        ``mail.thread._message_create``), answered with the ids of its messages;
        ``("mail.followers", followers, record, message_type, subtype_id, pids)``, whom a
        message notifies (``mail.followers._get_recipient_data``);
        ``("create", model, vals_list)``, a ``create`` of one of
        :meth:`_converter_wave_created_models` (``base.create``), answered with ids.
        Message creates are answered last (``tools.rendezvous.WAIT``)."""
        answers = [None] * len(requests)
        by_kind = defaultdict(list)
        for index, request in enumerate(requests):
            by_kind[request[0]].append(index)
        handlers = {
            "mail.message": self._converter_create_messages,
            "mail.followers": self._converter_read_recipients,
            "create": self._converter_create_records,
        }
        if set(by_kind) - set(handlers):
            raise ValueError("Mail converter: unknown wave request")
        if len(by_kind) > 1 and "mail.message" in by_kind:
            # Messages wait for the emails still on their way to theirs (creating their
            # attachments first), so that the wave's messages are created at once.
            for index in by_kind.pop("mail.message"):
                answers[index] = rendezvous.WAIT
        for kind, indexes in by_kind.items():
            found = handlers[kind]([requests[index][1:] for index in indexes])
            for index, answer in zip(indexes, found, strict=True):
                answers[index] = answer
        return answers

    @api.model
    def _converter_read_recipients(self, asked):
        """Whom each message notifies (``[(followers, record, message_type, subtype_id,
        pids)]``): one query for all the records asked the same question (Odoo's query
        takes several records; its rows are each one record's, or the same for all)."""
        groups = defaultdict(list)
        for index, (_followers, record, message_type, subtype_id, pids) in enumerate(asked):
            key = (record._name, message_type, subtype_id, frozenset(pids or ()))
            groups[key].append(index)
        answers = [None] * len(asked)
        for indexes in groups.values():
            followers, _record, message_type, subtype_id, pids = asked[indexes[0]]
            records = followers.env[asked[indexes[0]][1]._name].browse(
                list(dict.fromkeys(asked[index][1].id for index in indexes))
            )
            found = followers._converter_recipient_data_now(records, message_type, subtype_id, pids)
            for index in indexes:
                answers[index] = followers._converter_recipient_data_of(found, asked[index][1].id)
        return answers

    @api.model
    def _converter_wave_created_models(self):
        """Models whose records a wave's emails create together (``base.create``): their
        own ``create`` overrides run for each email, the rest once for the wave. Followers,
        activities, outgoing mail and attachments; override to add some."""
        return {"mail.followers", "mail.activity", "mail.mail", "ir.attachment"}

    @api.model
    def _converter_create_records(self, asked):
        """Create what ``asked`` (``[(model, vals_list)]``) with one ``create`` for all those
        asked of the same model in the same environment; return the ids of each one's."""
        return self._converter_together(
            asked, lambda shared, vals_list: shared._converter_create_now(vals_list)
        )

    @api.model
    def _converter_together(self, asked, create):
        """``create(shared, values)`` once per group of ``asked`` (``[(records, values_list)]``)
        sharing a model and an environment (each email's own privacy,
        ``mail_converter_private``, does not split them); the ids of each one's."""
        groups = []  # [(records in the shared environment, [index])]
        for index, (records, _values_list) in enumerate(asked):
            env = records.env
            context = {k: v for k, v in env.context.items() if k != "mail_converter_private"}
            for shared, indexes in groups:
                if (
                    shared._name == records._name
                    and shared.env.uid == env.uid
                    and shared.env.su == env.su
                    and shared.env.context == context
                ):
                    indexes.append(index)
                    break
            else:
                groups.append((records.with_env(env(context=context)), [index]))
        answers = [None] * len(asked)
        for shared, indexes in groups:
            values_list = [values for index in indexes for values in asked[index][1]]
            ids = create(shared, values_list).ids
            start = 0
            for index in indexes:
                count = len(asked[index][1])
                answers[index] = ids[start : start + count]
                start += count
        return answers

    @api.model
    def _converter_create_messages(self, asked):
        """Create the messages ``asked`` (``[(thread, values_list)]``) with one Odoo
        ``_message_create`` for all those asked in the same environment; return the ids of
        each one's messages."""
        return self._converter_together(
            asked, lambda shared, values_list: shared._converter_message_create_now(values_list)
        )

    # -- what every email of a wave asks, asked once (tools.wave_memo) --------------------
    @api.model
    def _converter_memo_models(self):
        """Models whose searches a wave answers again from its first answer, until it writes
        one of their records: configuration read for each email (ticket sequences and
        stages, lead stages, the models Odoo resets bounce counters on)."""
        return {"ir.sequence", "ir.model", "helpdesk.ticket.stage", "crm.stage"}

    @api.model
    def _converter_memo_refs(self):
        """Records Odoo's gateway looks up by XML id for each email (``env.ref`` checks they
        still exist each time): checked once a wave; override to add some."""
        return [
            "base.partner_root",
            "base.user_root",
            "helpdesk_mgmt.hlp_tck_created",
            "helpdesk_mgmt.helpdesk_ticket_channel_email",
            "crm.mt_lead_create",
        ]

    @api.model
    def _converter_memo_start(self, entries, memo):
        """Before the wave's records are made: the addresses whose contacts Odoo's gateway
        looks up (the wave's contacts made already) and the records it looks up by XML id,
        checked to exist now."""
        # Normalised already; an address Odoo would normalise otherwise is asked alone.
        memo.scope["partner_emails"] = {
            a.email for entry in entries for a in addresses.collect(entry.summary.address_headers)
        }
        IrModelData = self.env["ir.model.data"]
        wanted = defaultdict(set)
        for xmlid in self._converter_memo_refs():
            model, res_id = IrModelData._xmlid_to_res_model_res_id(xmlid, raise_if_not_found=False)
            if model in self.env and res_id:
                wanted[model].add(res_id)
        for model, ids in wanted.items():
            memo.remember_existing(model, self.env[model].sudo().browse(ids).exists().ids)

    @api.model
    def _converter_memo_targets(self, entries, memo):
        """Once the wave's records exist: the records its messages are posted on, whose
        aliases Odoo's reply-to looks up for each message, and those just created, whose
        last message (none, unless the wave posts one) ``message_post`` looks up."""
        fresh = {
            (model, record_id)
            for entry in entries
            if entry.bulk is not None
            for model, ids in entry.bulk.created_ids().items()
            for record_id in ids
        }
        parents = defaultdict(set)
        for model, record_id in fresh | {
            (e.plan.route.model, e.plan.route.res_id)
            for e in entries
            if e.plan.route and e.plan.route.res_id
        }:
            parents[model].add(record_id)
        memo.scope["alias_parents"] = dict(parents)
        memo.scope["fresh_threads"] = fresh

    @api.model
    def _converter_bulk_links(self, values_list):
        """Create the links of a wave's log rows at once (each email's were new: a row being
        converted has none, see ``_converter_apply``)."""
        if values_list:
            self.env["mail.converter.link"].sudo().create(values_list)

    @api.model
    def _converter_apply_alone(self, Converter, entry, source, planned=None):
        """The one-email path for an email of the batch: its own savepoint, its failure recorded;
        planned again unless ``planned`` (its mail and plan) is given."""
        try:
            with self.env.cr.savepoint():
                Converter._convert_logged(
                    entry.raw, entry.summary, source, entry.origin, entry.log, planned
                )
        except ConverterRetry as retry:
            return retry
        except Exception:  # noqa: BLE001 - one message never stops the others
            _logger.exception("Mail converter: %s could not be converted", entry.summary.key)
            return None
        return Converter._converter_finish(entry.log, entry.origin)

    @api.model
    def _converter_bulk_contacts(self, entries, source):
        """Create the new contacts of all ``entries`` at once: one claim, one ``create``."""
        wanted = [(entry, new) for entry in entries for new in entry.plan.contacts]
        if not wanted:
            return
        Contacts = self.env["mail.converter"]
        self.env["mail.converter.contact.claim"].sudo()._converter_claim(
            {new.address.email.lower() for _entry, new in wanted}
        )
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_context(mail_create_nolog=True, tracking_disable=True)
        )
        partners = Partner.create([Contacts._contact_values(new, source) for _e, new in wanted])
        for (entry, new), partner in zip(wanted, partners, strict=True):
            entry.contacts[new.address.email] = partner

    @api.model
    def _converter_bulk_records(self, entries, source):
        """Create the new tickets and leads of ``entries`` in one ``create`` per model, with
        the values Odoo's ``message_new`` chain gives each (captured, then served back)."""
        Converter = self.env["mail.converter"]
        slot = self._converter_bulk_slot(Converter)
        Converter = Converter.with_context(mail_converter_bulk=slot)
        captured = []
        for entry in entries:
            if not self._converter_bulk_eligible(entry):
                continue
            entry.bulk = waves.BulkCreate(stop_at=entry.plan.route.model)
            with slot.holding(entry.bulk):
                Converter.with_context(
                    mail_converter_private=Converter._privacy_context(entry.plan, entry.mail),
                )._converter_capture_new(entry.plan, entry.mail, source, entry.contacts)
            captured.append(entry)
        by_model = defaultdict(list)
        for entry in captured:
            for model, values_list in entry.bulk.captured.items():
                by_model[model].append((entry, values_list))
        for model, parts in by_model.items():
            Model = self._converter_bulk_model(model, source)
            records = Model.create([dict(values) for _entry, vl in parts for values in vl])
            # Computed now, for all of them, while the wave's memo answers what each asks
            # (a ticket's stage); later, from a flush anywhere, each would ask alone.
            records.flush_recordset()
            start = 0
            for entry, values_list in parts:
                entry.bulk.created_from(model, records[start : start + len(values_list)].ids)
                start += len(values_list)

    @api.model
    def _converter_bulk_slot(self, Converter):
        """The wave's :class:`tools.waves.BulkSlot` in ``Converter``'s context (a new one
        when a caller runs a step of the wave without it)."""
        slot = Converter.env.context.get("mail_converter_bulk")
        return slot if isinstance(slot, waves.BulkSlot) else waves.BulkSlot()

    @api.model
    def _converter_bulk_eligible(self, entry):
        """Whether the email's new record can be made in bulk: a plain email creating a record
        of a model whose gateway methods all come from known classes."""
        plan = entry.plan
        route = plan.route
        return bool(
            plan.state == "done"
            and plan.kind == "mail"
            and route
            and route.creates
            and not route.new_contact
            and route.model in self.env
            and self._converter_bulk_allowed(route.model)
        )

    @api.model
    @tools.ormcache("model")
    def _converter_bulk_allowed(self, model):
        """Whether every class defining one of :data:`BULK_METHODS` for ``model`` is known."""
        for cls in type(self.env[model]).__mro__:
            names = BULK_METHODS if cls.__module__.startswith("odoo.addons.") else ()
            if any(name in vars(cls) for name in names):
                if cls.__module__.split(".")[2] not in BULK_MODULES:
                    return False
        return True

    @api.model
    def _converter_bulk_model(self, model, source):
        """``model`` in the environment Odoo's gateway creates records in (``message_new``)."""
        MailThread = self.env["mail.converter.reader"]._converter_mail_thread(source)
        return (
            MailThread.with_context(attachments_mime_plainxml=True)
            .env[model]
            .with_context(mail_create_nosubscribe=True, mail_create_nolog=True)
            .with_user(self.env.uid)
            .sudo()
        )

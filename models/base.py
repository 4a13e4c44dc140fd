from odoo import api, models

from ..tools import rendezvous
from ..tools.wave_memo import memo_of


class Base(models.AbstractModel):
    """Every model: questions a wave of the converter's batch asks again and again are
    answered from its :class:`tools.wave_memo.WaveMemo`, which forgets what a write of
    the wave may change. Outside a wave (no memo in the context) nothing differs."""

    _inherit = "base"

    # Forgotten before and after: an answer given while the change is being made (by an
    # override, a compute) is not kept either.
    @api.model_create_multi
    def create(self, vals_list):
        memo = memo_of(self.env)
        if memo is not None:
            self._converter_memo_created(memo, vals_list)
        meeting = rendezvous.current()  # inside a wave: created with the other emails' records
        if meeting is not None and vals_list and self._converter_creates_with_wave_model():
            records = self.browse(meeting.meet(("create", self, vals_list)))
        else:
            records = super().create(vals_list)
        if memo is not None:
            self._converter_memo_created(memo, vals_list)
        return records

    @api.model
    def _converter_creates_with_wave_model(self):
        """Whether a wave of the converter's batch creates this model's records for all its
        emails at once (``mail.converter.batch._converter_wave_created_models``)."""
        Batch = self.env["mail.converter.batch"]
        return self._name in Batch._converter_wave_created_models() and (
            Batch._converter_bulk_allowed(self._name)
        )

    @api.model
    def _converter_create_now(self, vals_list):
        """The rest of ``create`` below this class: what a wave runs once for several
        emails' records (the model's own overrides ran for each email already)."""
        return super().create(vals_list)

    def write(self, vals):
        memo = memo_of(self.env)
        if memo is not None:
            self._converter_memo_written(memo, vals)
        result = super().write(vals)
        if memo is not None:
            self._converter_memo_written(memo, vals)
        return result

    def unlink(self):
        memo = memo_of(self.env)
        result = super().unlink()
        if memo is not None:
            memo.forget(self._name)
            memo.forget_existing(self._name)
        return result

    def _converter_memo_written(self, memo, vals):
        """These records are written with ``vals``: drop the wave memo's answers that depend
        on the fields written (override to revise them instead)."""
        memo.forget(self._name, vals)

    @api.model
    def _converter_memo_created(self, memo, vals_list):
        """Records are created from ``vals_list``: drop the wave memo's answers this may
        change (every answer about the model; override to drop fewer)."""
        memo.forget(self._name)

    def exists(self):
        # Odoo's env.ref() checks its record exists each time (OdooBot, its partner, a
        # model's creation subtype: several times an email); a wave checked them once.
        memo = memo_of(self.env)
        if memo is not None and memo.existing(self._name, self._ids):
            return self
        return super().exists()

    @api.model
    def search_fetch(self, domain, field_names=None, offset=0, limit=None, order=None):
        memo = memo_of(self.env)
        if memo is not None and field_names is not None and not field_names:
            ids = self._converter_memo_search(memo, domain, offset, limit, order)
            if ids is not None:
                return self.browse(ids)
        return super().search_fetch(domain, field_names, offset, limit, order)

    @api.model
    def _converter_memo_search(self, memo, domain, offset, limit, order):
        """The ids ``search(domain, offset, limit, order)`` finds, answered from the wave's
        ``memo``, or ``None`` to search the database. This one answers a search asked
        before with the same arguments, on the models the memo lists (configuration the
        wave reads for each email: sequences, stages); override to answer more."""
        if self._name not in memo.exact_models:
            return None
        key = ("search", repr(domain), offset, limit, order, self._converter_memo_env_key())
        return memo.answer(
            self._name,
            key,
            lambda: super(Base, self).search_fetch(domain, [], offset, limit, order).ids,
        )

    @api.model
    def _converter_conditions(self, domain, size):
        """``domain`` as its ``size`` conditions (tuples) when it is a plain list of them,
        the shape Odoo's gateway asks its repeated questions in; else ``None``."""
        if not isinstance(domain, list) or len(domain) != size:
            return None
        conditions = [tuple(c) if isinstance(c, list) else c for c in domain]
        if not all(isinstance(c, tuple) and len(c) == 3 for c in conditions):
            return None
        return conditions

    @api.model
    def _converter_ids_by(self, domain, field_name, order=None):
        """``{value of field_name: ids}`` of the records ``domain`` finds, each in ``order``:
        one read for a whole wave, each question answered with its part."""
        grouped = {}
        for record in self.search_fetch(domain, [field_name], order=order):
            grouped.setdefault(record[field_name], []).append(record.id)
        return grouped

    @api.model
    def _converter_memo_env_key(self):
        """What, besides its arguments, a search's answer depends on: user, superuser mode,
        companies, archived records, language (the order of translated names)."""
        context = self.env.context
        return (
            self.env.uid,
            self.env.su,
            tuple(context.get("allowed_company_ids") or ()),
            context.get("active_test", True),
            self.env.lang,
        )

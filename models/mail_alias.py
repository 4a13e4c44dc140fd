from odoo import api, models


class MailAlias(models.Model):
    _inherit = "mail.alias"

    @api.model
    def _converter_memo_search(self, memo, domain, offset, limit, order):
        # Odoo's reply-to of every posted message asks which aliases have the message's
        # record as parent (models.py, _notify_get_reply_to_batch): a wave asks once for
        # all the records it posts on, then answers each question with its part.
        asked = self._converter_asked_parents(domain)
        parents = memo.scope.get("alias_parents", {})
        if (
            asked is None
            or offset
            or limit is not None
            or order
            or not asked[1] <= parents.get(asked[0], set())
        ):
            return super()._converter_memo_search(memo, domain, offset, limit, order)
        model, res_ids = asked
        wave_ids = sorted(parents[model])
        found = memo.answer(
            self._name,
            ("aliases of", model, self._converter_memo_env_key()),
            lambda: (
                super(MailAlias, self)
                .search_fetch(
                    self._converter_parents_domain(model, wave_ids), ["alias_parent_thread_id"]
                )
                .mapped(lambda alias: (alias.id, alias.alias_parent_thread_id))
            ),
        )
        return [alias_id for alias_id, parent_id in found if parent_id in res_ids]

    @api.model
    def _converter_parents_domain(self, model, res_ids):
        """Odoo's question: the named aliases, with a domain, of ``model``'s ``res_ids``."""
        return [
            ("alias_domain_id", "!=", False),
            ("alias_parent_model_id.model", "=", model),
            ("alias_parent_thread_id", "in", res_ids),
            ("alias_name", "!=", False),
        ]

    @api.model
    def _converter_asked_parents(self, domain):
        """``(model, set of ids)`` when ``domain`` is exactly Odoo's question, else ``None``."""
        conditions = self._converter_conditions(domain, 4)
        if not conditions:
            return None
        model, res_ids = conditions[1][2], conditions[2][2]
        if not isinstance(model, str) or not isinstance(res_ids, (list, tuple)):
            return None
        if not all(isinstance(i, int) for i in res_ids):
            return None
        if conditions != self._converter_parents_domain(model, list(res_ids)):
            return None
        return model, set(res_ids)

"""Certified mail (PEC): plan, apply and describe.

A PEC is converted from the message inside its envelope (opened by
``mail.converter.reader``); a provider's receipt is filed as a note on the
conversation it is about. The planner and the pipeline both inherit this model.
"""

import dataclasses

from markupsafe import Markup

from odoo import Command, api, models

from ..tools import pec
from ..tools.plan import (
    PecPlan,
    Route,
)


class MailConverterPec(models.AbstractModel):
    _name = "mail.converter.pec"
    _description = "Mail converter: certified mail (PEC)"

    @api.model
    def _plan_pec(self, mail, source, plan):
        """Certified mail: a PEC is converted from its real sender (the envelope is already
        opened); a receipt opens nothing; a broken envelope is converted as received, noted."""
        envelope = mail.pec
        if envelope is None or not envelope.certified:
            return
        plan.pec = PecPlan(
            envelope.kind, envelope.sender, envelope.receipt_type, envelope.reference or ""
        )
        if envelope.kind == "receipt":
            self._converter_plan_pec_receipt(mail, source, plan)
        elif envelope.kind == "broken":
            plan.note(self.env._("%(error)s: converted as received", error=envelope.error))
        else:
            plan.kind = "pec"
            if envelope.kind == "anomaly":
                plan.note(self.env._("PEC anomaly envelope: the message was not certified"))

    @api.model
    def _converter_plan_pec_receipt(self, mail, source, plan):
        """A receipt is filed on the conversation of the message it is about, or only logged."""
        plan.kind = "pec_receipt"
        label = self._converter_pec_receipt_label(plan.pec.receipt_type)
        record = self._converter_record_of_messages([plan.pec.reference], source)
        if not record:
            plan.finish(
                "discarded",
                self.env._(
                    "PEC receipt (%(type)s): no conversation holds %(reference)s",
                    type=label,
                    reference=plan.pec.reference or self.env._("(no reference)"),
                ),
            )
            return
        plan.route = Route(
            record._name, record.id, why=self.env._("PEC receipt (%(type)s)", type=label)
        )
        self._converter_file_special(mail, source, plan)

    @api.model
    def _converter_pec_receipt_label(self, receipt_type):
        """What a receipt type (``X-Ricevuta``) means, for people."""
        labels = {
            "accettazione": self.env._("accepted by the sender's provider"),
            "non-accettazione": self.env._("refused by the sender's provider"),
            "presa-in-carico": self.env._("taken in charge by the recipient's provider"),
            "avvenuta-consegna": self.env._("delivered"),
            "errore-consegna": self.env._("not delivered"),
            "preavviso-errore-consegna": self.env._("not delivered within 12 hours"),
            "rilevazione-virus": self.env._("virus detected"),
        }
        meaning = labels.get(receipt_type)
        return f"{receipt_type}, {meaning}" if meaning else receipt_type or "?"

    @api.model
    def _converter_record_of_messages(self, message_ids, source=None):
        """The record holding the newest message we sent among ``message_ids``, or ``None``:
        never an incoming email (its Message-ID was written by a stranger), nor a record of
        another company than ``source``'s mailbox."""
        message_ids = [m for m in message_ids if m]
        if not message_ids:
            return None
        found = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("message_id", "in", message_ids),
                    ("model", "!=", False),
                    ("res_id", "!=", 0),
                    ("message_type", "!=", "email"),
                ],
                limit=1,
                order="id desc",
            )
        )
        if not found or found.model not in self.env:
            return None
        record = self.env[found.model].sudo().browse(found.res_id).exists()
        if not record or not hasattr(record, "message_post"):
            return None
        company = record["company_id"] if "company_id" in record._fields else None
        if source and source.company_id and company and company.id != source.company_id:
            return None
        return record

    @api.model
    def _apply_pec_receipt(self, plan, mail, source, log):
        """File a PEC receipt on its conversation as a note, with ``daticert.xml`` and the
        receipt itself attached; return the log values."""
        record = self.env[plan.route.model].sudo().browse(plan.route.res_id)
        envelope = mail.pec
        attachments = [(pec.DATICERT_NAME, envelope.daticert)] if envelope.daticert else []
        attachments.append(("pec-receipt.eml", envelope.envelope))
        label = self._converter_pec_receipt_label(plan.pec.receipt_type)
        lines = [self.env._("PEC receipt: %(type)s", type=label)]
        data = envelope.data
        if data.get("consegna") or data.get("destinatari"):
            lines.append(
                self.env._(
                    "Recipient: %(to)s", to=", ".join(data.get("consegna") or data["destinatari"])
                )
            )
        if data.get("data"):
            lines.append(
                self.env._(
                    "Certified on %(date)s by %(provider)s",
                    date=data["data"],
                    provider=data.get("gestore-emittente") or envelope.sender,
                )
            )
        if data.get("errore-esteso"):
            lines.append(self.env._("Error: %(error)s", error=data["errore-esteso"]))
        message = record.with_context(mail_create_nosubscribe=True).message_post(
            body=Markup("<br/>").join(lines),
            subject=mail.summary.subject or False,
            message_type="notification",
            subtype_xmlid="mail.mt_note",
            author_id=self.env.ref("base.partner_root").id,
            attachments=attachments,
            **({"message_id": mail.summary.message_id} if mail.summary.message_id else {}),
        )
        if plan.private:
            self._apply_privacy(plan, message)
        return {
            "state": "done",
            "reason": "; ".join(plan.notes) or False,
            "model": record._name,
            "res_id": record.id,
            "mail_message_id": message.id,
            "link_ids": [Command.clear()] * bool(log.link_ids)
            + self._link_commands(plan, record, {}),
        }

    @api.model
    def _converter_describe_pec(self, plan):
        """The simulator's line for certified mail or a receipt, or ``None``."""
        if plan.pec is None or plan.kind not in ("pec", "pec_receipt"):
            return None
        head = self.env._("PEC from %(email)s", email=plan.pec.sender or "?")
        if plan.kind == "pec_receipt":
            head = self.env._(
                "%(head)s, receipt of type %(type)s", head=head, type=plan.pec.receipt_type
            )
        return f"{head}: {self._converter_describe(dataclasses.replace(plan, kind='mail'))}"

    @api.model
    def _log_pec_values(self, plan):
        """The log values of certified mail: the receipt type and what it refers to."""
        if plan.pec is None:
            return {}
        return {
            "pec_receipt_type": plan.pec.receipt_type or False,
            "pec_reference": plan.pec.reference or False,
        }

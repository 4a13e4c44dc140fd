from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import bans

# Models whose references to a contact are mail bookkeeping, not business: they never keep
# a spam contact alive (its messages are looked at separately).
BOOKKEEPING_MODELS = frozenset(
    {
        "res.partner",  # its own company and contacts: child_ids is looked at separately
        "res.users",  # looked at separately
        "mail.message",
        "mail.mail",
        "mail.followers",
        "mail.notification",
        "mail.tracking.value",
        "mail.message.reaction",
        "discuss.channel.member",
        "bus.presence",
    }
)


class MailConverterSpam(models.TransientModel):
    """Mark tickets or leads as spam: ban their senders, delete them and the contacts the
    converter created for them when those have nothing else.

    Everything runs with the user's own rights: who may not delete a record closes and
    archives it; only converter managers ban whole domains; nobody bans the company's own
    domains or users (C11)."""

    _name = "mail.converter.spam"
    _description = "Mark emails as spam"

    ticket_ids = fields.Many2many("helpdesk.ticket", string="Tickets")
    lead_ids = fields.Many2many("crm.lead", string="Leads")
    ban_scope = fields.Selection(
        [("address", "The sender's address"), ("domain", "The sender's whole domain")],
        "Ban",
        required=True,
        default="address",
        help="Free-mail domains (gmail.com, outlook.com, ...) are never banned whole: their "
        "senders are banned by address.",
    )
    reason = fields.Char(
        default=lambda self: self.env._("Marked as spam by %(user)s", user=self.env.user.name)
    )
    preview_html = fields.Html(
        "What happens", compute="_compute_preview_html", sanitize=True, readonly=True
    )
    from_form = fields.Boolean(help="Opened from a form: go back to the list afterwards.")

    @api.model
    def _open_for(self, records):
        """The confirmation dialog for ``records`` (tickets or leads)."""
        if not records:
            raise UserError(self.env._("Select the records to mark as spam."))
        records.check_access("write")
        field = self._records_field(records._name)
        wizard = self.create(
            {
                field: [fields.Command.set(records.ids)],
                "from_form": bool(self.env.context.get("mail_converter_spam_from_form")),
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Mark as spam"),
        }

    @api.model
    def _records_field(self, model):
        """The wizard field holding records of ``model``; override to support more models."""
        fields_by_model = {"helpdesk.ticket": "ticket_ids", "crm.lead": "lead_ids"}
        if model not in fields_by_model:
            raise UserError(self.env._("Only tickets and leads can be marked as spam."))
        return fields_by_model[model]

    def _records(self):
        """The records to mark, every model together."""
        self.ensure_one()
        return [records for records in (self.ticket_ids, self.lead_ids) if records]

    def _pattern(self, sender):
        """The ban pattern for ``sender`` with the chosen scope: never a free-mail domain."""
        if self.ban_scope == "domain":
            return bans.domain_pattern(sender) or sender
        return sender

    @api.depends("ticket_ids", "lead_ids", "ban_scope")
    def _compute_preview_html(self):
        for wizard in self:
            rows = []
            for records in wizard._records():
                for record in records:
                    sender = record._mail_converter_spam_sender()
                    pattern = wizard._pattern(sender) if sender else ""
                    contact = wizard._spam_contact(record)
                    rows.append(
                        Markup("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>")
                        % (
                            record.display_name,
                            sender or self.env._("no sender address"),
                            pattern or "-",
                            contact.display_name if contact else "-",
                        )
                    )
            wizard.preview_html = Markup(
                '<table class="table table-sm"><thead><tr><th>%s</th><th>%s</th><th>%s</th>'
                "<th>%s</th></tr></thead><tbody>%s</tbody></table>"
            ) % (
                self.env._("Deleted"),
                self.env._("Sender"),
                self.env._("Banned"),
                self.env._("New contact deleted if it has nothing else"),
                Markup("").join(rows),
            )

    def action_confirm(self):
        """Ban the senders, delete the records and their now useless contacts; say what was kept."""
        self.ensure_one()
        groups = self._records()
        for records in groups:
            # Marking spam needs the right to edit them; deleting, the right to delete them.
            records.check_access("write")
            missing = records.filtered(lambda r: not r._mail_converter_spam_sender())
            if missing:
                raise UserError(
                    self.env._(
                        "%(record)s has no sender address to ban.", record=missing[0].display_name
                    )
                )
        self._check_ban_scope()
        model = groups[0]._name if groups else "helpdesk.ticket"
        # Banning is the point of the wizard: bans are written as the system, within the
        # limits above and the ban's own constraints (never our domains or users).
        Ban = self.env["mail.converter.ban"].sudo()
        banned = Ban.browse()
        contacts = self.env["res.partner"].sudo()
        not_banned = {}
        deleted = archived = 0
        for records in groups:
            for record in records:
                company = record.company_id or self.env.company
                pattern = self._pattern(record._mail_converter_spam_sender())
                why = Ban._converter_protected_reason(pattern)
                if why:
                    not_banned[pattern] = why
                else:
                    banned |= Ban._converter_ban_senders([pattern], self.reason, company)
                contacts |= self._spam_contact(record)
            self._note_on_logs(records)
            if self._remove(records):
                deleted += len(records)
            else:
                archived += len(records)
        kept = {}
        for contact in contacts:
            mine = contact.with_env(self.env)
            why = self._contact_keep_reason(contact) or (
                not (mine.has_access("unlink") or mine.has_access("write"))
                and self.env._("you may not delete or archive contacts")
            )
            if why:
                kept[contact] = why
            else:
                self._remove(mine)
        return self._done_action(model, deleted, banned, contacts, kept, not_banned, archived)

    def _check_ban_scope(self):
        """Whole domains are banned by converter managers only."""
        if self.ban_scope == "domain" and not self.env.user.has_group(
            "mail_converter.group_mail_converter_manager"
        ):
            raise AccessError(
                self.env._("Only mail converter administrators can ban a whole domain.")
            )

    @api.model
    def _spam_contact(self, record):
        """The contact the converter created for ``record``'s sender, if any."""
        partner = record.sudo().partner_id
        return partner if partner.mail_converter_created else partner.browse()

    @api.model
    def _remove(self, records):
        """Delete ``records`` with the user's own rights; who may not delete them closes and
        archives them instead (they may edit them: the wizard checked it). Return whether
        they were deleted."""
        if records.has_access("unlink"):
            records.unlink()
            return True
        values = {"active": False}
        if records._name == "helpdesk.ticket":
            closed = self.env["helpdesk.ticket.stage"].search([("closed", "=", True)], limit=1)
            if closed:
                values["stage_id"] = closed.id
        records.write(values)
        return False

    def _note_on_logs(self, records):
        """Say on the emails' log rows that their records were deleted as spam."""
        logs = (
            self.env["mail.converter.log"]
            .sudo()
            .search([("model", "=", records._name), ("res_id", "in", records.ids)])
        )
        for log in logs:
            log.reason = "; ".join(filter(None, [log.reason, self.reason]))

    def _contact_keep_reason(self, contact):
        """Why ``contact`` must be kept once its spam is deleted, or ``""`` to delete it."""
        contact = contact.with_context(active_test=False)
        if contact.user_ids:
            return self.env._("it is a user")
        if contact.child_ids:
            return self.env._("it has contacts of its own")
        for model, field_name in self._contact_reference_fields():
            if (
                self.env[model]
                .sudo()
                .with_context(active_test=False)
                .search_count([(field_name, "=", contact.id)], limit=1)
            ):
                return self.env._(
                    "it has %(what)s records (%(field)s)",
                    what=self.env[model]._description,
                    field=self.env[model]._fields[field_name]._description_string(self.env),
                )
        Message = self.env["mail.message"].sudo()
        if Message.search_count(
            [
                "|",
                ("author_id", "=", contact.id),
                "&",
                ("model", "=", "res.partner"),
                "&",
                ("res_id", "=", contact.id),
                ("message_type", "in", ("email", "comment")),
            ],
            limit=1,
        ):
            return self.env._("it has other messages")
        return ""

    @api.model
    def _contact_reference_fields(self):
        """``(model, field)`` of every stored reference to a contact in the installed models
        (sales, invoices, pickings, projects, calendar, bank accounts...), minus mail
        bookkeeping: any of them keeps a contact alive. Override to drop or add some."""
        result = []
        for model_name in sorted(self.env.registry):
            Model = self.env[model_name]
            if Model._transient or Model._abstract or not Model._auto:
                continue
            if model_name in BOOKKEEPING_MODELS:
                continue
            for name, field in Model._fields.items():
                if field.type == "many2one" and field.comodel_name == "res.partner" and field.store:
                    result.append((model_name, name))
        return result

    def _done_action(self, model, deleted, banned, contacts, kept, not_banned=None, archived=0):
        """A notification saying what was done and which contacts were kept, and why."""
        lines = [
            self.env._(
                "%(count)s deleted; banned: %(bans)s.",
                count=deleted,
                bans=", ".join(banned.mapped("pattern")) or "-",
            )
        ]
        if archived:
            lines.append(
                self.env._(
                    "%(count)s closed and archived: you may not delete them.", count=archived
                )
            )
        removed = len(contacts) - len(kept)
        if removed:
            lines.append(self.env._("%(count)s new contact(s) deleted.", count=removed))
        for pattern, why in (not_banned or {}).items():
            lines.append(self.env._("%(pattern)s not banned: %(why)s.", pattern=pattern, why=why))
        for contact, why in kept.items():
            lines.append(
                self.env._("Contact %(name)s kept: %(why)s.", name=contact.display_name, why=why)
            )
        next_action = (
            self.env[model]._mail_converter_spam_next_action()
            if self.from_form
            else {"type": "ir.actions.act_window_close"}
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning" if kept or not_banned else "success",
                "title": self.env._("Marked as spam"),
                "message": "\n".join(lines),
                "sticky": bool(kept or not_banned),
                "next": next_action,
            },
        }

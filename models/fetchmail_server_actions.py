"""What an administrator does with a mailbox: test the connection, list its folders,
open its log; and the connection itself (TLS, the transport seam).
"""

import logging

from odoo import api, models, tools
from odoo.exceptions import AccessError, UserError

from ..tools.connection import MailboxError, connect

_logger = logging.getLogger(__name__)

# Common names of sent-mail folders, to suggest their direction when listing folders.
SENT_FOLDER_NAMES = {
    "sent",
    "sent items",
    "sent mail",
    "sent messages",
    "gesendet",
    "gesendete elemente",
    "envoyés",
    "elementi inviati",
    "posta inviata",
    "enviados",
    "elementos enviados",
    "verzonden items",
}


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    def _converter_check_mailbox_admin(self):
        """Refuse the actions that log in to the mail server (fetch, test, list folders) to
        anyone but Settings administrators, before any ``sudo()``; override to widen."""
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(
                self.env._(
                    "Only Settings administrators may make Odoo log in to a mailbox (%(mailbox)s).",
                    mailbox=", ".join(self.sudo().mapped("name")),
                )
            )
        self.check_access("write")

    def fetch_mail(self):
        self._converter_check_mailbox_admin()
        return super().fetch_mail()

    def _converter_security(self):
        """Return ``ssl``, ``starttls`` or ``none``; override for other transports."""
        self.ensure_one()
        if self.is_ssl:
            return "ssl"
        return "starttls" if self.starttls else "none"

    def _converter_connect(self):
        """Open a logged-in :mod:`..tools.connection` mailbox for this server."""
        self.ensure_one()
        protocol = self._get_connection_type()
        if protocol not in ("imap", "pop"):
            raise UserError(self.env._("The mail converter reads IMAP and POP3 mailboxes only."))
        return connect(
            protocol,
            self.server,
            int(self.port),
            self.user,
            self.password,
            security=self._converter_security(),
            verify_tls=self.verify_tls,
            # Odoo's login seam (_imap_login__: OAuth) and the advanced parameters.
            **self._converter_connection_options(),
        )

    def _converter_list_folders(self, failure):
        """Log in and list the server's folders as ``{path: special-use attributes}``;
        any failure becomes a UserError starting with ``failure``."""
        self.ensure_one()
        self._converter_check_mailbox_admin()
        try:
            mailbox = self.sudo()._converter_connect()
            names = mailbox.list_folders()
            names = {name: mailbox.folder_flags.get(name, frozenset()) for name in names}
            mailbox.disconnect()
        except (MailboxError, OSError, UnicodeError) as exc:
            raise UserError(
                self.env._(
                    "%(failure)s: %(error)s", failure=failure, error=tools.exception_to_unicode(exc)
                )
            ) from exc
        return names

    def button_confirm_login(self):
        self._converter_check_mailbox_admin()  # security: before anything logs in
        stock = self.filtered(lambda s: not s.use_converter)
        if stock:
            super(FetchmailServer, stock).button_confirm_login()
        for server in self - stock:
            folders = server._converter_list_folders(self.env._("Connection test failed"))
            server.write({"state": "done", "error_date": False, "error_message": False})
            missing = [
                f.path
                for f in server.converter_folder_ids
                if f.active and f.path not in folders and server.server_type == "imap"
            ]
            if missing:
                raise UserError(
                    self.env._(
                        "Connected, but these folders do not exist on the server: %(missing)s",
                        missing=", ".join(missing),
                    )
                )
        if len(self) == 1 and self.use_converter:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "success",
                    "title": self.env._("Connection test successful"),
                    "message": self.env._("Logged in to %(server)s.", server=self.server),
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        return True

    def action_list_folders(self):
        """Read the folder list from the server into a wizard, never from a compute."""
        self.ensure_one()
        self._converter_check_mailbox_admin()  # security: before anything logs in
        folders = self._converter_list_folders(self.env._("Could not list folders"))
        wizard = self.env["mail.converter.folder.wizard"]._converter_create_for(self, folders)
        return {
            "type": "ir.actions.act_window",
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Folders on %(server)s", server=self.name),
        }

    @api.model
    def _converter_guess_direction(self, path, special_use=frozenset()):
        """Suggest ``outbound`` for sent-mail folders: flagged ``\\Sent`` by the server
        (RFC 6154), else by name; override for other naming schemes."""
        if "\\Sent" in special_use:
            return "outbound"
        leaf = path.replace("\\", "/").replace(".", "/").rsplit("/", 1)[-1].strip().lower()
        return "outbound" if leaf in SENT_FOLDER_NAMES else "inbound"

    def action_open_converter_log(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_converter.action_mail_converter_log"
        )
        action["domain"] = [("server_id", "=", self.id)]
        state = self.env.context.get("converter_state")
        action["context"] = {"search_default_server_id": self.id}
        if state:
            action["context"][f"search_default_state_{state}"] = 1
        if self.env.context.get("converter_period") == "24h":
            action["context"]["search_default_last_24h"] = 1
        return action

    def action_open_converter_bcc_errors(self):
        """The BCC error report: emails this logging address refused, with the reason."""
        action = self.action_open_converter_log()
        action["domain"] = [("server_id", "=", self.id), ("kind", "=", "bcc")]
        action["context"]["search_default_state_rejected"] = 1
        action["name"] = self.env._("BCC errors")
        return action

    def action_import_archive(self):
        """Open the archive import for this mailbox."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mail_converter.action_mail_converter_import_wizard"
        )
        action["context"] = {"default_server_id": self.id}
        return action

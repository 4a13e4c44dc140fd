# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Mail Converter",
    "summary": "Turn IMAP/POP3 mailboxes into tickets, leads and contact history, exactly once",
    "version": "19.0.1.0.0",
    "category": "Productivity/Discuss",
    "website": "https://github.com/mail-converter/mail_converter",
    "author": "mail_converter developers",
    "license": "LGPL-3",
    "depends": ["mail", "contacts", "crm", "helpdesk_mgmt"],
    "external_dependencies": {"python": []},
    "data": [
        "security/mail_converter_security.xml",
        "security/ir.model.access.csv",
        "views/fetchmail_server_folder_views.xml",
        "views/mail_converter_log_views.xml",
        "views/fetchmail_server_views.xml",
        "wizards/mail_converter_folder_wizard_views.xml",
        "views/mail_converter_menus.xml",
    ],
    "installable": True,
    "application": True,
}

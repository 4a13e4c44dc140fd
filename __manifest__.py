# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Mail Converter",
    "summary": "Turn IMAP/POP3 mailboxes into tickets, leads and contact history, exactly once",
    "version": "19.0.1.5.0",
    "category": "Productivity/Discuss",
    "website": "https://github.com/mail-converter/mail_converter",
    "author": "mail_converter developers",
    "license": "LGPL-3",
    "depends": ["mail", "contacts", "crm", "helpdesk_mgmt"],
    "external_dependencies": {
        "python": [
            "google-re2",
            "flufl.bounce",
            "authres",
            "dkimpy",
            "tnefparse",
            "icalendar",
            "quotequail",
        ]
    },
    "data": [
        "security/mail_converter_security.xml",
        "security/ir.model.access.csv",
        "security/mail_converter_instant_security.xml",
        "data/mail_converter_tag_data.xml",
        # Operations: archive imports and the overview.
        "data/mail_converter_import_cron.xml",
        "data/mail_converter_fetch_cron.xml",
        "data/mail_converter_instant_cron.xml",
        "views/mail_converter_import_job_views.xml",
        "wizards/mail_converter_import_views.xml",
        "views/mail_converter_dashboard_views.xml",
        # helpdesk workflow (issue 10)
        "data/mail_converter_ticket_data.xml",
        "views/mail_converter_ban_views.xml",
        "views/helpdesk_ticket_views.xml",
        "wizards/mail_converter_spam_views.xml",
        "wizards/mail_compose_message_views.xml",
        # end helpdesk workflow
        "views/mail_converter_folder_views.xml",
        "views/mail_converter_tag_views.xml",
        "views/mail_converter_rule_views.xml",
        "views/mail_converter_log_views.xml",
        "views/fetchmail_server_views.xml",
        "views/fetchmail_server_instant_views.xml",
        "views/fetchmail_server_oauth_views.xml",
        "views/fetchmail_server_auth_views.xml",
        "views/mail_message_views.xml",
        "views/res_partner_views.xml",
        "views/crm_lead_views.xml",
        "views/res_users_views.xml",
        "views/res_config_settings_views.xml",
        "wizards/mail_converter_folder_wizard_views.xml",
        "wizards/mail_converter_simulator_views.xml",
        "views/mail_converter_menus.xml",
    ],
    "assets": {
        # Privacy: the lock on private emails (chatter and lists); operations: the overview's graph.
        "web.assets_backend": [
            "mail_converter/static/src/**/*",
        ],
        "web.assets_tests": [
            "mail_converter/static/tests/tours/**/*",
        ],
    },
    "installable": True,
    "application": True,
}

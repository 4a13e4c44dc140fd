import { registry } from "@web/core/registry";

// An admin sees on the overview that a Microsoft 365 mailbox lost its consent, clicks
// Reconnect, goes through Odoo's own OAuth flow and lands back on a mailbox that works.
registry.category("web_tour.tours").add("mail_converter_reconnect", {
    steps: () => [
        {
            content: "The card shows how the mailbox signs in",
            trigger: ".o_kanban_record:contains('Tour M365') .o_mail_converter_auth:contains('OAuth2 (Microsoft 365)')",
        },
        {
            content: "and that its account must be reconnected",
            trigger:
                ".o_kanban_record:contains('Tour M365') .o_mail_converter_last_error:contains('The Microsoft 365 account must be reconnected')",
        },
        {
            content: "Reconnect opens the provider's consent screen",
            trigger: ".o_kanban_record:contains('Tour M365') button[name=action_converter_reconnect]",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back in Odoo, the new grant's token expiry shows on the card",
            trigger: ".o_kanban_record:contains('Tour M365') .o_mail_converter_auth:contains('token expires')",
        },
        {
            content: "and the mailbox no longer asks to be reconnected",
            trigger:
                ".o_kanban_record:contains('Tour M365'):not(:has(button[name=action_converter_reconnect]))",
        },
    ],
});

import { registry } from "@web/core/registry";

// An admin opens the overview, follows a mailbox's failed emails and retries one.
registry.category("web_tour.tours").add("mail_converter_operations", {
    steps: () => [
        {
            content: "The mailbox's card shows its health and its graph",
            trigger:
                ".o_mail_converter_dashboard .o_kanban_record:contains('Tour mailbox') .o_mail_converter_graph canvas",
        },
        {
            content: "Its failure is on the card",
            trigger: ".o_kanban_record:contains('Tour mailbox') .o_mail_converter_last_error:contains('Server down')",
        },
        {
            content: "Follow the failed emails",
            trigger: ".o_kanban_record:contains('Tour mailbox') a.o_mail_converter_failed:contains('1')",
            run: "click",
        },
        {
            content: "The log opens filtered on failed emails of this mailbox",
            trigger: ".o_searchview_facet:contains('Failed')",
        },
        {
            content: "Open the failed email",
            trigger: ".o_list_view .o_data_row:contains('Tour retry me') td[name=subject]",
            run: "click",
        },
        {
            content: "Retry it",
            trigger: ".o_form_view button[name=action_retry]",
            run: "click",
        },
        {
            content: "It is converted now",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Converted')",
        },
        {
            content: "Archive imports are listed next to the log",
            trigger: "[data-menu-xmlid='mail_converter.menu_mail_converter_imports_root']",
            run: "click",
        },
        {
            trigger: "[data-menu-xmlid='mail_converter.menu_mail_converter_import_jobs']",
            run: "click",
        },
        {
            content: "Open the import",
            trigger: ".o_list_view .o_data_row:contains('tour-export.mbox') td[name=name]",
            run: "click",
        },
        {
            content: "Its progress bar and counters",
            trigger: ".o_form_view .o_field_mail_converter_import_progress:contains('100')",
        },
    ],
});

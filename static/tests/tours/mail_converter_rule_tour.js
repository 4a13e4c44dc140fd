import { registry } from "@web/core/registry";

const SAMPLE_EMAIL = [
    "From: Customer <customer@example.com>",
    "To: support@company.example",
    "Subject: URGENT: printer on fire",
    "",
    "Please help.",
].join("\n");

// An admin writes a rule in the UI, then checks it in the simulator on a sample email.
registry.category("web_tour.tours").add("mail_converter_rule_simulator", {
    steps: () => [
        {
            content: "Create a rule",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_field_widget[name='name'] input",
            run: "edit Tour urgent mail",
        },
        {
            content: "Add a condition",
            trigger: "div[name=condition_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "Subject contains 'urgent'",
            trigger: "div[name=condition_ids] .o_selected_row div[name=value] input",
            run: "edit urgent",
        },
        {
            content: "Save the rule",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
        },
        {
            content: "Open the simulator",
            trigger: "[data-menu-xmlid='mail_converter.menu_mail_converter_rules_root']",
            run: "click",
        },
        {
            trigger: "[data-menu-xmlid='mail_converter.menu_mail_converter_simulator']",
            run: "click",
        },
        {
            content: "Paste a sample email",
            trigger: ".modal div[name=eml_text] textarea",
            // A function: "edit ..." commands are one line, an email is several.
            run: (helpers) => helpers.edit(SAMPLE_EMAIL),
        },
        {
            content: "Simulate",
            trigger: ".modal button[name=action_simulate]",
            run: "click",
        },
        {
            content: "The predicted action is shown",
            trigger: ".modal .o_mail_converter_outcome:contains('Create a new Helpdesk Ticket (rule Tour urgent mail)')",
        },
        {
            content: "With the rule's verdict",
            trigger: ".modal div[name=verdicts_html]:contains('Tour urgent mail: MATCHED')",
        },
    ],
});

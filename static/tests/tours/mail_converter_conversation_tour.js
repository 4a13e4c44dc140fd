import { registry } from "@web/core/registry";

// The text of an email is in a shadow root (mail's message.js): ":shadow" enters it.
const EMAIL = ".o-mail-Message:has(.o-mail-Message-author:contains('Bob Outlook'))";
const BODY = `${EMAIL} .overflow-x-auto:shadow`;

// An Outlook reply: its new text shows, the quoted history waits behind Odoo's "•••".
registry.category("web_tour.tours").add("mail_converter_quote_fold", {
    steps: () => [
        {
            content: "The new text shows",
            trigger: `${BODY} p:contains('Still broken after the restart.')`,
        },
        {
            content: "The quoted history is folded: unfold it",
            trigger: `${BODY} .o-mail-ellipsis`,
            run: "click",
        },
        {
            content: "The quoted history is all there",
            trigger: `${BODY} p:contains('Please restart the router')`,
        },
    ],
});

// An Outlook screenshot: shown in the message, not listed again under it.
registry.category("web_tour.tours").add("mail_converter_inline_image", {
    steps: () => [
        {
            content: "The screenshot shows in the message",
            trigger: `${BODY} img[data-attachment-id]`,
        },
        {
            content: "No attachment list under the message",
            trigger: `${EMAIL}:not(:has(.o-mail-AttachmentList))`,
        },
    ],
});

const CURRENT_STAGE = ".o_statusbar_status .o_arrow_button_current";

// A customer's reply a few days after the closing: the ticket is open again and flagged.
registry.category("web_tour.tours").add("mail_converter_reopened_ticket", {
    steps: () => [
        {
            content: "The ticket is back in the team's first open stage",
            trigger: `${CURRENT_STAGE}:contains('New')`,
        },
        {
            content: "It is flagged: the customer replied",
            trigger: ".ribbon:contains('Customer replied')",
        },
        {
            content: "The reply is in the chatter",
            trigger:
                ".o-mail-Message:has(.o-mail-Message-author:contains('Alice Customer')) " +
                ".overflow-x-auto:shadow p:contains('The light is still red.')",
        },
    ],
});

// A reply long after the closing: a new ticket, linked to the old one both ways.
registry.category("web_tour.tours").add("mail_converter_followup_ticket", {
    steps: () => [
        {
            content: "The new ticket names the one it follows up",
            trigger: ".o_field_widget[name='mail_converter_followup_of_id']",
        },
        {
            content: "The customer's reply is in its chatter",
            trigger: ".overflow-x-auto:shadow p:contains('It is jammed again.')",
        },
        {
            content: "Its note links to the old ticket: open it",
            trigger: ".o-mail-Message-body:contains('Follow-up of') a[data-oe-model='helpdesk.ticket']",
            run: "click",
        },
        {
            content: "The old ticket is open, still closed",
            trigger: `.o_breadcrumb .active:contains('Printer jammed'):not(:contains('Re:'))`,
        },
        {
            trigger: `${CURRENT_STAGE}:contains('Done')`,
        },
        {
            content: "Its note links back to the new ticket",
            trigger: ".o-mail-Message-body:contains('Follow-up:') a[data-oe-model='helpdesk.ticket']",
        },
    ],
});

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

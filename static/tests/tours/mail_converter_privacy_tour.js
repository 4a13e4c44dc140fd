import { registry } from "@web/core/registry";

// The responsible of a ticket opens it: the private email shows a lock in the chatter.
registry.category("web_tour.tours").add("mail_converter_private_lock", {
    steps: () => [
        {
            // The text of an email is in a shadow root: find it by its author.
            content: "The private email is in the chatter, with its lock",
            trigger:
                ".o-mail-Message:has(.o-mail-Message-author:contains('Carla')) .o-mail-converter-private-lock",
        },
        {
            content: "The public note has no lock",
            trigger: ".o-mail-Message:contains('Public text'):not(:has(.o-mail-converter-private-lock))",
        },
    ],
});

// ...and in the list of messages, a lock marks it too.
registry.category("web_tour.tours").add("mail_converter_private_lock_list", {
    steps: () => [
        {
            content: "The private email has a lock in the list",
            trigger: ".o_data_row:has(.o-mail-converter-private-lock)",
        },
        {
            content: "Public messages have none",
            trigger: ".o_data_row:not(:has(.o-mail-converter-private-lock))",
        },
    ],
});

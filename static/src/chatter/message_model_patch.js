import { Message } from "@mail/core/common/message_model";
import { patch } from "@web/core/utils/patch";

// Sent by mail.message._to_store_defaults: private emails show a lock in the chatter.
patch(Message.prototype, {
    setup() {
        super.setup(...arguments);
        /** @type {boolean} */
        this.mail_converter_private = false;
        /** @type {string|undefined} */
        this.mail_converter_private_reason = undefined;
    },
});

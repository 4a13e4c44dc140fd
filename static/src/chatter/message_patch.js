import { Message } from "@mail/core/common/message";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

patch(Message.prototype, {
    /** Tooltip of the lock of a private email: why it is private. */
    get mailConverterPrivateTitle() {
        const reason = this.message.mail_converter_private_reason;
        return reason ? _t("Private email: %(reason)s", { reason }) : _t("Private email");
    },
});

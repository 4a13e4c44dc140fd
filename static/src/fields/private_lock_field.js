import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/** A lock for private emails in lists; nothing for the others. Read-only. */
export class PrivateLockField extends Component {
    static template = "mail_converter.PrivateLockField";
    static props = { ...standardFieldProps };
}

export const privateLockField = {
    component: PrivateLockField,
    displayName: _t("Private email lock"),
    supportedTypes: ["boolean"],
};

registry.category("fields").add("mail_converter_private_lock", privateLockField);

import { registry } from "@web/core/registry";
import { ProgressBarField, progressBarField } from "@web/views/fields/progress_bar/progress_bar_field";

import { useEffect } from "@odoo/owl";

// How often an import's form shows the scheduler's progress while it runs.
const REFRESH_MS = 3000;

/**
 * The progress bar of an archive import: it follows the import while it waits or runs,
 * so the admin watches it move without reloading the page.
 */
export class ImportProgressField extends ProgressBarField {
    setup() {
        super.setup();
        useEffect(
            (state) => {
                if (!["queued", "running"].includes(state)) {
                    return;
                }
                const timer = setInterval(() => this.props.record.load(), REFRESH_MS);
                return () => clearInterval(timer);
            },
            () => [this.props.record.data.state]
        );
    }
}

registry.category("fields").add("mail_converter_import_progress", {
    ...progressBarField,
    component: ImportProgressField,
});

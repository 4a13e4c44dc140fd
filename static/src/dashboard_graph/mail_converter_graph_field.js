import { loadBundle } from "@web/core/assets";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

import { Component, onWillStart, useEffect, useRef } from "@odoo/owl";

// Converted, failed, skipped: the colours of the log's own badges.
const COLORS = { done: "#28a745", failed: "#dc3545", other: "#adb5bd" };

/**
 * A mailbox's emails per day, stacked by outcome, for the Mail Converter overview.
 * The field holds JSON: {labels: [...], series: [{key, label, values: [...]}]}.
 */
export class MailConverterGraphField extends Component {
    static template = "mail_converter.GraphField";
    static props = { ...standardFieldProps };

    setup() {
        this.canvasRef = useRef("canvas");
        this.chart = null;
        onWillStart(() => loadBundle("web.chartjs_lib"));
        useEffect(() => {
            this.renderChart();
            return () => this.chart?.destroy();
        });
    }

    get data() {
        return JSON.parse(this.props.record.data[this.props.name] || '{"labels": [], "series": []}');
    }

    renderChart() {
        this.chart?.destroy();
        const { labels, series } = this.data;
        this.chart = new Chart(this.canvasRef.el, {
            type: "bar",
            data: {
                labels,
                datasets: series.map((serie) => ({
                    label: serie.label,
                    data: serie.values,
                    backgroundColor: COLORS[serie.key] || COLORS.other,
                    stack: "emails",
                })),
            },
            options: {
                maintainAspectRatio: false,
                plugins: {
                    legend: { display: false },
                    tooltip: { intersect: false, mode: "index", position: "nearest" },
                },
                scales: {
                    x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true } },
                    y: { stacked: true, display: false, beginAtZero: true },
                },
            },
        });
    }
}

export const mailConverterGraphField = {
    component: MailConverterGraphField,
    supportedTypes: ["text"],
};

registry.category("fields").add("mail_converter_graph", mailConverterGraphField);

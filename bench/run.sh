#!/usr/bin/env bash
# Benchmark mail_converter against stock Odoo fetchmail on the same corpus, with scale,
# idle and memory figures, ending with one table of targets (PASS/MISS).
# Usage: bash bench/run.sh [messages, default 500] [contacts] [--scenarios speed,scale,workers,idle,memory]
#        [--contacts N] [--workers N] [--idle-mailboxes N] [--memory-messages N] [--big N]
# "bash bench/run.sh 500 100000" compares stock and converter with 100,000 extra contacts only.
# "bash bench/run.sh latency [options of bench/latency.py]": seconds from the mail server to a
# ticket by polling, IMAP IDLE and the pipe, and the cost of 50 quiet watched mailboxes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
mc_ensure_all
TEMPLATE=${MC_BENCH_DB:-mc_bench}
if [ "${1:-}" = latency ]; then
    shift
    db=${TEMPLATE}_latency
    mc_say "Preparing database $db (mail_converter)"
    mc_dropdb "$db"
    "$MC_PY" -m odoo $(mc_odoo_db_args) --addons-path="$MC_ADDONS_PATH" -d "$db" -i mail_converter \
        --stop-after-init --without-demo=True --log-level=warn >/dev/null 2>&1 || mc_die "install failed"
    ODOO_ARGS=$("$MC_PY" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' $(mc_odoo_db_args) \
        --addons-path="$MC_ADDONS_PATH" --log-level=warn)
    exec "$MC_PY" "$MC_REPO/bench/latency.py" --db "$db" --odoo-args "$ODOO_ARGS" "$@"
fi
ARGS=()
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then ARGS+=(--messages "$1"); shift; fi
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    if [ "$1" = 0 ]; then ARGS+=(--scenarios speed); else ARGS+=(--scenarios scale --contacts "$1"); fi
    shift
fi
# Stock runs on a database without mail_converter: plain Odoo with the same apps.
for spec in "${TEMPLATE}_stock:helpdesk_mgmt,crm,contacts" "${TEMPLATE}_converter:mail_converter"; do
    db=${spec%%:*}_tpl; modules=${spec#*:}
    mc_say "Preparing template database $db ($modules)"
    mc_dropdb "$db"
    "$MC_PY" -m odoo $(mc_odoo_db_args) --addons-path="$MC_ADDONS_PATH" -d "$db" -i "$modules" \
        --stop-after-init --without-demo=True --log-level=warn >/dev/null 2>&1 || mc_die "install of $modules failed"
done
ODOO_ARGS=$("$MC_PY" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' $(mc_odoo_db_args) \
    --addons-path="$MC_ADDONS_PATH" --log-level=warn)
exec "$MC_PY" "$MC_REPO/bench/run_bench.py" --template "$TEMPLATE" --pg-port "$MC_PG_PORT" \
    --odoo-args "$ODOO_ARGS" "${ARGS[@]}" "$@"

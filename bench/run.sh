#!/usr/bin/env bash
# Benchmark mail_converter against stock Odoo fetchmail on the same corpus.
# Usage: bash bench/run.sh [number of messages, default 500]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
mc_ensure_all
TEMPLATE=${MC_BENCH_DB:-mc_bench}
mc_say "Preparing template database $TEMPLATE (mail_converter installed)"
mc_dropdb "$TEMPLATE"
python3 -m odoo $(mc_odoo_db_args) --addons-path="$MC_ADDONS_PATH" -d "$TEMPLATE" -i mail_converter \
    --stop-after-init --without-demo=True --log-level=warn >/dev/null 2>&1 || mc_die "install failed"
ODOO_ARGS=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' $(mc_odoo_db_args) \
    --addons-path="$MC_ADDONS_PATH" --log-level=warn)
python3 "$MC_REPO/bench/run_bench.py" --template "$TEMPLATE" --messages "${1:-500}" \
    --pg-port "$MC_PG_PORT" --odoo-args "$ODOO_ARGS"

#!/usr/bin/env bash
# Run mail_converter on a local demo: PostgreSQL, a Dovecot mailbox seeded with
# sample mail, and Odoo at http://localhost:8069 (login admin / admin).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mc_ensure_all
DB=${MC_DB:-mail_converter}
PORT=${MC_HTTP_PORT:-8069}
DOVECOT_DIR="$MC_STATE/dovecot"
export MC_DEMO_IMAP_PORT=$(( ${MC_DOVECOT_PORT_BASE:-14100} + 43 ))

mc_say "Starting Dovecot (IMAP 127.0.0.1:$MC_DEMO_IMAP_PORT, users support, sales and pec; password = user)"
"$MC_PY" "$MC_REPO/tests/dovecot.py" start --dir "$DOVECOT_DIR" --port-base "${MC_DOVECOT_PORT_BASE:-14100}" \
    --user support --user sales --user pec >&2

ODOO_ARGS=($(mc_odoo_db_args) --addons-path="$MC_ADDONS_PATH")
ODOO=("$MC_PY" -m odoo server "${ODOO_ARGS[@]}")
if ! runuser -u postgres -- psql -p "$MC_PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    mc_say "Creating database $DB with mail_converter (first run takes a minute)"
    "${ODOO[@]}" -d "$DB" -i mail_converter --stop-after-init --without-demo=True --log-level=warn \
        || mc_die "Installing mail_converter failed"
else
    "${ODOO[@]}" -d "$DB" -u mail_converter --stop-after-init --log-level=warn || mc_die "Updating mail_converter failed"
fi
mc_say "Configuring the demo mailbox and converting its mail"
MC_REPO="$MC_REPO" "$MC_PY" -m odoo shell "${ODOO_ARGS[@]}" -d "$DB" --log-level=warn --no-http \
    < "$MC_REPO/scripts/demo_setup.py"

mc_say "Odoo is starting on http://localhost:$PORT (login admin, password admin). Ctrl-C stops it."
exec "${ODOO[@]}" -d "$DB" --db-filter="^$DB\$" --http-interface=127.0.0.1 --http-port="$PORT"

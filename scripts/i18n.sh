#!/usr/bin/env bash
# Export i18n/mail_converter.pot with Odoo's own exporter, from a database with the module.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mc_ensure_all
DB=${MC_I18N_DB:-mail_converter_i18n}
CONF="$MC_STATE/i18n-odoo.conf"
mkdir -p "$MC_STATE"
cat > "$CONF" <<CONF
[options]
db_host = 127.0.0.1
db_port = $MC_PG_PORT
db_user = $MC_DB_USER
db_password = $MC_DB_PASSWORD
addons_path = $MC_ADDONS_PATH
CONF
mc_dropdb "$DB"
"$MC_PY" -m odoo -c "$CONF" -d "$DB" -i mail_converter --stop-after-init --without-demo=True --log-level=warn
"$MC_PY" -m odoo i18n export -c "$CONF" -d "$DB" mail_converter
mc_dropdb "$DB"
mc_say "Wrote $MC_REPO/i18n/mail_converter.pot"

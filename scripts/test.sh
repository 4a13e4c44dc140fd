#!/usr/bin/env bash
# Run every test of mail_converter: pure-Python unit tests, then Odoo tests
# (PostgreSQL, a real Dovecot started by the tests, headless Chromium tours).
# Usage: scripts/test.sh [odoo --test-tags value]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mc_ensure_all
mc_apt chromium
TAGS=${1:-${MC_TEST_TAGS:-/mail_converter}}
DB=${MC_TEST_DB:-mail_converter_test}
LOG="$MC_STATE/test-odoo.log"
mkdir -p "$MC_STATE"

mc_say "Unit tests (pure Python, no database)"
set +e
# unittest, not pytest: pytest imports the addon's __init__ (the repo root is a package).
"$MC_PY" -m unittest discover -s "$MC_REPO/tests/unit" -t "$MC_REPO/tests/unit" 2>&1 | tee "$MC_STATE/test-unit.log"
unit_rc=${PIPESTATUS[0]}
set -e
unit_total=$(awk '/^Ran [0-9]+ test/ {n = $2} END {print n + 0}' "$MC_STATE/test-unit.log")
unit_failed=$(grep -oE '(failures|errors)=[0-9]+' "$MC_STATE/test-unit.log" | awk -F= '{n += $2} END {print n + 0}' || true)
[ "$unit_rc" = 0 ] || [ "$unit_failed" != 0 ] || unit_failed=1
unit_passed=$((unit_total - unit_failed))

# Odoo's OAuth logins (auto-installed with mail) are installed explicitly, so the converter's
# Outlook and Gmail tests run. MC_TEST_WITHOUT_OAUTH=1 installs the module, uninstalls them,
# then runs the tests: the module must pass without them (their tests skip and say why).
modules=mail_converter,microsoft_outlook,google_gmail
[ "${MC_TEST_WITHOUT_OAUTH:-0}" = 1 ] && modules=mail_converter

mc_say "Odoo tests ($TAGS) on a fresh database $DB"
# MC_TEST_REUSE_DB=1 upgrades the existing test database instead (faster while developing).
install="-i"
if [ "${MC_TEST_REUSE_DB:-0}" = 1 ]; then install="-u"; else mc_dropdb "$DB"; fi
: >"$LOG"
set +e
"$MC_PY" -m odoo $(mc_odoo_db_args) --addons-path="$MC_ADDONS_PATH" -d "$DB" \
    $install "$modules" --stop-after-init --without-demo=True --log-level=warn 2>&1 | tee -a "$LOG"
install_rc=${PIPESTATUS[0]}
set -e
if [ "$install_rc" = 0 ] && [ "${MC_TEST_WITHOUT_OAUTH:-0}" = 1 ]; then
    echo 'env["ir.module.module"].search([("name", "in", ("microsoft_outlook", "google_gmail")), ("state", "=", "installed")]).button_immediate_uninstall()' \
        | "$MC_PY" -m odoo shell $(mc_odoo_db_args) --addons-path="$MC_ADDONS_PATH" -d "$DB" --log-level=warn
fi
# The batch parity test converts its corpus one email at a time in a second database, a
# copy of the freshly installed one (tests/test_batch.py), and batched in the test database.
PARITY_DB="${DB}_parity"
mc_dropdb "$PARITY_DB"
runuser -u postgres -- createdb -p "$MC_PG_PORT" -O "$MC_DB_USER" -T "$DB" "$PARITY_DB"
if [ -d "$HOME/.local/share/Odoo/filestore/$DB" ]; then
    cp -a "$HOME/.local/share/Odoo/filestore/$DB" "$HOME/.local/share/Odoo/filestore/$PARITY_DB"
fi
export MC_TEST_PARITY_DB="$PARITY_DB"
set +e
# Installed above: the tests run on the installed modules (all of them post-install tests).
"$MC_PY" -m odoo $(mc_odoo_db_args) --addons-path="$MC_ADDONS_PATH" -d "$DB" \
    --test-enable --test-tags "$TAGS" --stop-after-init \
    --http-interface=127.0.0.1 --http-port="${MC_TEST_HTTP_PORT:-18069}" \
    --log-level=test --without-demo=True 2>&1 | tee -a "$LOG"
odoo_rc=${PIPESTATUS[0]}
set -e
result=$(grep -E 'odoo.tests.result: [0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests' "$LOG" | tail -n1 || true)
if [ -z "$result" ]; then
    mc_say "Odoo printed no test result (rc=$odoo_rc); see $LOG"
    odoo_failed=1; odoo_total=0
else
    read -r f e t < <(echo "$result" | sed -E 's/.*: ([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests.*/\1 \2 \3/')
    odoo_failed=$((f + e)); odoo_total=$t
fi
# A traceback at install time is a failure even when no test failed.
if grep -qE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$LOG"; then
    mc_say "Errors were logged:"; grep -E '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$LOG" | head -20 >&2
    [ "$odoo_failed" -gt 0 ] || odoo_failed=1
fi
[ "$odoo_rc" = 0 ] && [ "$install_rc" = 0 ] || [ "$odoo_failed" -gt 0 ] || odoo_failed=1

passed=$((unit_passed + odoo_total - odoo_failed))
[ "$passed" -ge 0 ] || passed=0
failed=$((unit_failed + odoo_failed))
echo
echo "mail_converter: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$((unit_passed + odoo_total))" -gt 0 ]

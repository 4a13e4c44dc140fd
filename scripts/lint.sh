#!/usr/bin/env bash
# Lint like OCA's CI, offline: ruff (check and format) and pylint-odoo's mandatory checks.
# Usage: scripts/lint.sh [--fix]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mc_ensure_venv
mc_ensure_odoo
mc_ensure_python_deps
mc_addons_path
BIN="$MC_VENV/bin"
cd "$MC_REPO"
if [ "${1:-}" = "--fix" ]; then
    "$BIN/ruff" check --fix .
    "$BIN/ruff" format .
fi
rc=0
mc_say "ruff check"
"$BIN/ruff" check . || rc=1
mc_say "ruff format --check"
"$BIN/ruff" format --check . || rc=1
mc_say "pylint-odoo (.pylintrc-mandatory)"
# pylint-odoo reads the addon as a package named after its directory; two processes
# halve its time (about 40 s alone), and a failure says so rather than only printing above.
if ! (cd "$MC_LINKS" && "$BIN/pylint" --jobs=2 --rcfile="$MC_REPO/.pylintrc-mandatory" mail_converter); then
    rc=1
    mc_say "pylint-odoo: FAILED (its findings are printed just above)"
fi
mc_say "oca-checks-odoo-module, oca-checks-po"
"$BIN/oca-checks-odoo-module" "$MC_REPO/__manifest__.py" || rc=1
if compgen -G "$MC_REPO/i18n/*.po*" >/dev/null; then "$BIN/oca-checks-po" "$MC_REPO"/i18n/*.po* || rc=1; fi
[ "$rc" = 0 ] && mc_say "lint: clean"
exit "$rc"

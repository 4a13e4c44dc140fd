# Shared set-up for run.sh, test.sh and bench: sourced, never run.
# Everything here is idempotent: a second call finds things in place and returns.

MC_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MC_STATE=${MC_STATE:-$MC_REPO/.run}           # git-ignored working area
ODOO_DIR=${ODOO_DIR:-/opt/odoo19}               # where Odoo 19 source lives
ODOO_GIT=${ODOO_GIT:-https://github.com/odoo/odoo.git}
MC_PG_PORT=${MC_PG_PORT:-55432}
MC_PG_CLUSTER=mail_converter
MC_DB_USER=${MC_DB_USER:-odoo}
MC_DB_PASSWORD=${MC_DB_PASSWORD:-odoo}
export PIP_DISABLE_PIP_VERSION_CHECK=1

mc_say() { printf '\033[1m[mail_converter]\033[0m %s\n' "$*" >&2; }
mc_die() { printf '[mail_converter] ERROR: %s\n' "$*" >&2; exit 1; }

# Debian packages: only those that are missing are installed.
mc_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || mc_die "Please install these Debian/Ubuntu packages: ${missing[*]}"
    [ "$(id -u)" = 0 ] || mc_die "Run as root, or install first: apt-get install ${missing[*]}"
    mc_say "Installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || mc_die "apt-get install ${missing[*]} failed"
}

# Every Python package goes into a virtual environment outside the repository,
# never into the machine's python3: Odoo pins old werkzeug, cryptography, ...
# A fresh clone on the same machine finds and reuses it.
MC_VENV=${MC_VENV:-/opt/mail_converter/venv}
MC_PY="$MC_VENV/bin/python"

mc_ensure_venv() {
    [ -x "$MC_PY" ] && return 0
    command -v python3 >/dev/null || mc_die "python3 (3.10 to 3.12) is required."
    mc_say "Creating the virtual environment $MC_VENV"
    mkdir -p "$(dirname "$MC_VENV")"
    python3 -m venv "$MC_VENV" 2>/dev/null || { mc_apt python3-venv; python3 -m venv "$MC_VENV"; } \
        || mc_die "python3 -m venv $MC_VENV failed"
}

mc_pip() { PIP_CONSTRAINT="$MC_STATE/pip-constraints.txt" "$MC_PY" -m pip install -q "$@"; }

mc_odoo_ok() {
    "$MC_PY" - <<'PY' 2>/dev/null
import odoo.release, odoo.api
raise SystemExit(0 if odoo.release.version_info[:2] == (19, 0) else 1)
PY
}

# Odoo 19 into the venv: a path entry (.pth) on a source tree, not an
# editable install, so OCA addon wheels (which ship an odoo/addons namespace
# in site-packages) cannot hide it.
mc_ensure_odoo() {
    mc_ensure_venv
    mkdir -p "$MC_STATE"
    # Odoo's old pins only build with an older setuptools.
    echo 'setuptools<81' > "$MC_STATE/pip-constraints.txt"
    if ! mc_odoo_ok; then
        if [ ! -f "$ODOO_DIR/odoo/release.py" ]; then
            mc_say "Odoo 19.0 not found; cloning the 19.0 branch into $ODOO_DIR"
            mc_apt git
            git clone --depth 1 --branch 19.0 "$ODOO_GIT" "$ODOO_DIR" \
                || mc_die "Could not download Odoo 19.0 from $ODOO_GIT.
Provide an Odoo 19.0 Community source tree (with odoo/, setup.py, requirements.txt, addons/)
at $ODOO_DIR, or point ODOO_DIR=/path/to/odoo-19.0 at one, and run this command again."
        fi
        mc_say "Installing Odoo's Python requirements from $ODOO_DIR into $MC_VENV"
        mc_apt build-essential libpq-dev libldap2-dev libsasl2-dev
        local req="$MC_STATE/odoo-requirements.txt"
        # Keep Odoo's own pins; drop lines a downstream tree added for non-Odoo modules.
        grep -viE 'used by (flutter|ohrms)' "$ODOO_DIR/requirements.txt" > "$req"
        mc_pip 'setuptools<81' wheel || mc_die "pip could not install setuptools"
        mc_pip -r "$req" zope.interface zope.event \
            || mc_die "pip could not install Odoo's requirements (see above)."
        local site
        site=$("$MC_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        echo "$ODOO_DIR" > "$site/odoo19-path.pth"
        mc_odoo_ok || mc_die "$MC_PY still cannot import Odoo 19 from $ODOO_DIR."
    fi
    ODOO_DIR=$("$MC_PY" -c 'import odoo.release, os; print(os.path.dirname(os.path.dirname(odoo.release.__file__)))')
}

# Python packages the module, its tests and lint need. Reinstalled only when
# one of the requirement files changed (a stamp in the venv remembers them).
mc_ensure_python_deps() {
    local site stamp want
    site=$("$MC_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    stamp="$MC_VENV/.mail_converter-requirements"
    want=$(cat "$MC_REPO"/requirements*.txt | sha1sum | cut -c1-40)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        mc_say "Installing mail_converter's Python requirements into $MC_VENV"
        # --no-deps: helpdesk_mgmt's only requirement is the odoo distribution, which we provide by path.
        mc_pip --no-deps -r "$MC_REPO/requirements-addons.txt" \
            || mc_die "pip could not install odoo-addon-helpdesk_mgmt==19.0.*"
        mc_pip -r "$MC_REPO/requirements.txt" -r "$MC_REPO/requirements-test.txt" \
            || mc_die "pip could not install the requirements (see above)."
        echo "$want" > "$stamp"
    fi
    MC_OCA_ADDONS="$site/odoo/addons"
}

# Odoo needs the addon in a directory named after it: link the checkout.
# The link lives outside the checkout, so nothing that walks the module (i18n export,
# pylint) meets the link to itself.
mc_addons_path() {
    MC_LINKS="$(dirname "$MC_VENV")/addons/$(echo "$MC_REPO" | sha1sum | cut -c1-12)"
    mkdir -p "$MC_LINKS"
    ln -sfn "$MC_REPO" "$MC_LINKS/mail_converter"
    MC_ADDONS_PATH="$ODOO_DIR/odoo/addons,$ODOO_DIR/addons,$MC_OCA_ADDONS,$MC_LINKS"
}

# A private PostgreSQL cluster on loopback, so nothing else on the machine is touched.
mc_ensure_postgres() {
    mc_apt postgresql postgresql-client
    local version
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$MC_PG_CLUSTER"; then
        mc_say "Creating PostgreSQL $version cluster '$MC_PG_CLUSTER' on 127.0.0.1:$MC_PG_PORT"
        pg_createcluster -p "$MC_PG_PORT" "$version" "$MC_PG_CLUSTER" \
            -o listen_addresses=localhost -o fsync=off -o synchronous_commit=off >/dev/null \
            || mc_die "pg_createcluster failed"
    fi
    local cversion
    cversion=$(pg_lsclusters -h | awk -v c="$MC_PG_CLUSTER" '$2 == c {print $1}')
    if ! pg_lsclusters -h | awk -v c="$MC_PG_CLUSTER" '$2 == c {print $4}' | grep -q online; then
        pg_ctlcluster "$cversion" "$MC_PG_CLUSTER" start || mc_die "PostgreSQL did not start"
    fi
    runuser -u postgres -- psql -q -p "$MC_PG_PORT" -tAc \
        "SELECT 1 FROM pg_roles WHERE rolname='$MC_DB_USER'" | grep -q 1 \
        || runuser -u postgres -- psql -q -p "$MC_PG_PORT" -c \
            "CREATE ROLE $MC_DB_USER LOGIN CREATEDB PASSWORD '$MC_DB_PASSWORD'" >/dev/null
}

mc_odoo_db_args() {
    echo "--db_host=127.0.0.1 --db_port=$MC_PG_PORT --db_user=$MC_DB_USER --db_password=$MC_DB_PASSWORD"
}

mc_dropdb() {
    runuser -u postgres -- dropdb -p "$MC_PG_PORT" --if-exists --force "$1" >/dev/null 2>&1 || true
    rm -rf "$HOME/.local/share/Odoo/filestore/$1"
}

mc_ensure_all() {
    mc_apt dovecot-imapd dovecot-pop3d openssl
    mc_ensure_odoo
    mc_ensure_python_deps
    mc_addons_path
    mc_ensure_postgres
}

# Shared by scripts/run and scripts/test: a venv with the pinned packages, bun from the
# npm registry for Reflex, and Debian packages when missing. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
VENV="$ROOT/.venv"
BUN_VERSION=1.4.5

export REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false
export REFLEX_DIR="$TOOLS/reflex" BUN_INSTALL_CACHE_DIR="$TOOLS/bun-cache"
export REFLEX_BUN_PATH="$TOOLS/node_modules/bun/bin/bun.exe"
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

apt_install() {  # apt_install PACKAGE... : install Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {  # ensure_venv REQUIREMENTS_FILE [NO_DEPS_REQUIREMENTS_FILE]
  local req="$1" nodeps="${2:-}" stamp
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment (.venv)"
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
  fi
  stamp="$VENV/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$req")${nodeps:+-$(basename "$nodeps")}"
  if [ ! -f "$stamp" ]; then
    say "installing Python packages from $req"
    "$VENV/bin/pip" install -q -r "$req"
    # Packages whose declared pins conflict with ours but whose code runs on ours.
    [ -z "$nodeps" ] || "$VENV/bin/pip" install -q --no-deps -r "$nodeps"
    touch "$stamp"
  fi
}

ensure_cli() {  # the `jobdeck` command-line client (pyproject.toml), editable: code changes need no reinstall
  local stamp="$VENV/.cli-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/jobdeck" ]; then
    say "installing the jobdeck command into .venv/bin"
    "$VENV/bin/pip" install -q --no-deps -e .
    touch "$stamp"
  fi
}

ensure_bun() {
  if [ ! -x "$REFLEX_BUN_PATH" ]; then
    command -v npm >/dev/null || apt_install npm
    say "installing bun $BUN_VERSION from the npm registry"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "bun@$BUN_VERSION" >/dev/null
  fi
}

# --- PostgreSQL for the tests -------------------------------------------------------------
# The tests' PostgreSQL: the server at JOBDECK_TEST_DATABASE_URL (an admin URL; default the
# machine's, as user postgres) if one answers there, else one of our own: Debian's
# postgresql package, a fresh cluster in JOBDECK_TEST_PG_DIR (default .tools/pg) on a free
# port, run as the postgres user when we are root (postgres refuses root). The URL is
# exported for pytest; stop_test_postgres stops and removes our own server.
TEST_PG_DEFAULT_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TEST_PG_RUN_DIR=""
TEST_PG_TMP_BASE=""

pg_as_owner() {  # run a PostgreSQL program as the postgres user when we are root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_answers() {  # pg_answers SQLALCHEMY_URL : true when a server answers there and lets us in
  "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, sqlalchemy as sa
eng = sa.create_engine(sys.argv[1], connect_args={"connect_timeout": 3})
with eng.connect() as c:
    c.execute(sa.text("select 1"))
PY
}

ensure_test_postgres() {
  local url="${JOBDECK_TEST_DATABASE_URL:-$TEST_PG_DEFAULT_URL}"
  if pg_answers "$url"; then
    export JOBDECK_TEST_DATABASE_URL="$url"
    return 0
  fi
  say "no PostgreSQL answers at $url: starting one for the tests"
  apt_install postgresql
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$bin/initdb" ] || { echo "PostgreSQL's initdb not found under /usr/lib/postgresql" >&2; return 1; }
  local base="${JOBDECK_TEST_PG_DIR:-$TOOLS/pg}"
  mkdir -p "$base"
  if ! pg_as_owner test -x "$base"; then  # the postgres user cannot reach the checkout
    TEST_PG_TMP_BASE="$(mktemp -d /tmp/jobdeck-pg.XXXXXX)"
    chmod 755 "$TEST_PG_TMP_BASE"
    base="$TEST_PG_TMP_BASE"
  fi
  TEST_PG_RUN_DIR="$(mktemp -d "$base/run.XXXXXX")"  # a cluster per run: no stale state, runs side by side
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$TEST_PG_RUN_DIR"; fi
  local port; port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  pg_as_owner "$bin/initdb" -D "$TEST_PG_RUN_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  pg_as_owner "$bin/pg_ctl" -D "$TEST_PG_RUN_DIR/data" -l "$TEST_PG_RUN_DIR/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $TEST_PG_RUN_DIR -c fsync=off -c max_connections=200" start >/dev/null
  url="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  pg_answers "$url" || { cat "$TEST_PG_RUN_DIR/server.log" >&2; return 1; }
  export JOBDECK_TEST_DATABASE_URL="$url"
  say "PostgreSQL for the tests at 127.0.0.1:$port ($TEST_PG_RUN_DIR)"
}

stop_test_postgres() {  # stop and remove the server ensure_test_postgres started, if it did
  [ -n "$TEST_PG_RUN_DIR" ] || return 0
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  pg_as_owner "$bin/pg_ctl" -D "$TEST_PG_RUN_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$TEST_PG_RUN_DIR" ${TEST_PG_TMP_BASE:+"$TEST_PG_TMP_BASE"}
  TEST_PG_RUN_DIR="" TEST_PG_TMP_BASE=""
}

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

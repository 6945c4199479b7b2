#!/usr/bin/env bash
# Installs what JotPay needs, idempotently: a venv with the Python deps, and bun
# from the npm registry (Reflex's own bun download needs the open internet).
#   scripts/bootstrap.sh          app deps
#   scripts/bootstrap.sh --dev    app + test deps + Debian chromium for browser tests
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "Python 3.11-3.13 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when pyproject.toml changed (or the dev extras are newly wanted).
extras=""; [ "$DEV" = 1 ] && extras="[dev]"
stamp=".venv/.jotpay-installed${extras:+-dev}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "== installing Python packages ${extras}"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
  touch "$stamp"
fi

if [ ! -x tools/node_modules/bun/bin/bun.exe ] && [ ! -x tools/node_modules/.bin/bun ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm (Node.js 20+) is required to install bun" >&2; exit 1; }
  echo "== installing bun from the npm registry into tools/"
  mkdir -p tools
  [ -f tools/package.json ] || echo '{"name": "jotpay-tools", "private": true}' > tools/package.json
  (cd tools && npm install --no-audit --no-fund --silent "bun@^1.4.4")
fi

if [ "$DEV" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian chromium for browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "== setup complete"

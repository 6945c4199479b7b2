#!/usr/bin/env bash
# `make bench`: every benchmark under bench/ prints key=value figures. Not pass/fail.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
eval "$(scripts/services.sh 2>/dev/null)"
status=0
for module in bench/*_bench.py; do
  name="$(basename "$module" .py)"
  echo "# $name"
  python -m "bench.$name" || status=1
done
exit $status

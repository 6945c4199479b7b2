#!/usr/bin/env bash
# `make test`: lint, then the whole pytest suite (unit, integration, e2e).
# With CI=true, PostgreSQL and Redis are required (started when down); elsewhere the
# tests that need them skip with a printed reason when they are not reachable.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if exports="$(scripts/services.sh)"; then
  eval "$exports"
else
  eval "$exports"
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true: PostgreSQL and Redis are required" >&2
    exit 1
  fi
fi
echo "== ruff"
ruff check . || exit 1
echo "== pytest (TEST_DATABASE_URL=${TEST_DATABASE_URL:-unset}, TEST_REDIS_URL=${TEST_REDIS_URL:-unset})"
python -m pytest -p no:cacheprovider "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit $rc

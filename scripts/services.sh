#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1, starting them when they are down.
# Prints the export lines for TEST_DATABASE_URL / TEST_REDIS_URL. Exits non-zero when a
# service cannot be had (with CI=true the suite must not silently skip those tests).
set -uo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
status=0
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >&2 || true
    for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  fi
fi
if pg_up; then
  echo "export TEST_DATABASE_URL=\${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
else
  echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; status=1
fi
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2 || true
    for _ in $(seq 1 30); do redis_up && break; sleep 0.3; done
  fi
fi
if redis_up; then
  echo "export TEST_REDIS_URL=\${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
else
  echo "Redis is not reachable on 127.0.0.1:6379" >&2; status=1
fi
exit $status

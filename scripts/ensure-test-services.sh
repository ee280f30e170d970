#!/usr/bin/env bash
# What the tests need outside Python: unixODBC with the PostgreSQL ODBC driver,
# Debian's Chromium, a reachable PostgreSQL server and a reachable Redis server
# (each started, or installed and started, when it is not; TEST_DATABASE_URL and
# TEST_REDIS_URL bring your own). Idempotent and quiet when all is there.
set -euo pipefail

need=()
for pkg in unixodbc odbc-postgresql chromium postgresql-client; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ -z "${TEST_DATABASE_URL:-}" ] && ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  need+=(postgresql)
fi
if [ -z "${TEST_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  need+=(redis-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing with apt: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Redis for the rate-limit tests (RATELIMIT_STORAGE_URI=redis://...), unless the caller brings one.
if [ -z "${TEST_REDIS_URL:-}" ]; then
  if [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" != "PONG" ]; then
    echo "starting Redis" >&2
    service redis-server start >/dev/null 2>&1 \
      || redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no --dir /tmp >/dev/null
    for _ in $(seq 1 30); do
      [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ] && break
      sleep 1
    done
  fi
  [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ] || { echo "Redis did not start" >&2; exit 1; }
fi

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exit 0  # the caller brings their own server
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

# The tests connect as postgres/postgres over TCP; a fresh install needs the password set.
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
fi
PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null

#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port for the store tests.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # prints: export ENR_TEST_PG_URL=... ENR_TEST_PG_APP_URL=... ENR_PG_TEST_ROOT=...
#   .venv/bin/pytest tests/test_store.py          # store tests also run against PostgreSQL
#   scripts/pg-test-cluster.sh stop               # stops the cluster, removes its directory
#
# Two roles, as in production (enr/store/roles.py): `results` owns the database and runs the
# migrations (ENR_TEST_PG_URL), `results_app`
# is the application role (ENR_TEST_PG_APP_URL), which the migrations grant SELECT and INSERT only.
#
# Safe as root (the server runs as the `postgres` user via runuser), fsync off (tests only), unix
# socket in the cluster's private directory, TCP on 127.0.0.1 only. PGBIN, PGPORT, PGROOT override
# the binaries (/usr/lib/postgresql/15/bin), the port (55432) and the directory (mktemp under /tmp).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGPORT=${PGPORT:-55432}
STATE=${ENR_PG_TEST_STATE:-/tmp/enr-pg-test-cluster.${PGPORT}.env}

runas() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ -f "$STATE" ]; then
    # shellcheck disable=SC1090
    . "$STATE"
    if runas "$PGBIN/pg_ctl" -D "$ENR_PG_TEST_ROOT/data" status >/dev/null 2>&1; then
      cat "$STATE"
      return 0
    fi
  fi
  local root=${PGROOT:-$(mktemp -d /tmp/enrpg.XXXXXX)}
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres: "$root"
  fi
  runas "$PGBIN/initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1
  runas "$PGBIN/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 \
    -o "-p $PGPORT -k $root -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt \
    -c "CREATE ROLE results LOGIN PASSWORD 'results'" -c "CREATE DATABASE results OWNER results" \
    -c "CREATE ROLE results_app LOGIN PASSWORD 'results_app' NOCREATEDB NOCREATEROLE" \
    -c "GRANT CONNECT ON DATABASE results TO results_app" >/dev/null
  {
    echo "export ENR_PG_TEST_ROOT=$root"
    echo "export ENR_TEST_PG_URL=postgresql+psycopg2://results:results@127.0.0.1:$PGPORT/results"
    echo "export ENR_TEST_PG_APP_URL=postgresql+psycopg2://results_app:results_app@127.0.0.1:$PGPORT/results"
  } >"$STATE"
  cat "$STATE"
}

stop() {
  local root=${ENR_PG_TEST_ROOT:-}
  if [ -z "$root" ] && [ -f "$STATE" ]; then
    # shellcheck disable=SC1090
    . "$STATE"
    root=$ENR_PG_TEST_ROOT
  fi
  [ -n "$root" ] || { echo "no test cluster recorded in $STATE" >&2; return 0; }
  if [ -d "$root/data" ]; then
    runas "$PGBIN/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  case "$root" in /tmp/*) rm -rf "$root" ;; esac
  rm -f "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

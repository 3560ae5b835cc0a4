#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for the tests and prints the Npgsql connection
# string on stdout; `scripts/postgres.sh stop` stops it. The data directory lives under /tmp and is
# recreated on every start, so no state leaks between runs.
set -euo pipefail

PORT="${EASEL_TEST_POSTGRES_PORT:-55432}"
ROOT="${TMPDIR:-/tmp}/easel-test-postgres-$PORT"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -n "$BIN" ] || { echo "postgres.sh: PostgreSQL is not installed; run scripts/bootstrap.sh" >&2; exit 1; }

run_pg() {
  # initdb and postgres refuse to run as root: use the postgres account the Debian package creates.
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
  if [ -f "$ROOT/data/postmaster.pid" ]; then
    run_pg "$BIN/pg_ctl" -D "$ROOT/data" -m immediate stop >/dev/null 2>&1 || true
  fi
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac

stop
rm -rf "$ROOT"
mkdir -p "$ROOT"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$ROOT"; fi
run_pg "$BIN/initdb" -D "$ROOT/data" -U easel --auth=trust -E UTF8 >"$ROOT/initdb.log" 2>&1 \
  || { cat "$ROOT/initdb.log" >&2; exit 1; }
run_pg "$BIN/pg_ctl" -D "$ROOT/data" -w -t 60 -l "$ROOT/server.log" \
  -o "-p $PORT -k $ROOT -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$ROOT/server.log" >&2; exit 1; }
echo "Host=127.0.0.1;Port=$PORT;Username=easel;Database=postgres;Pooling=true"

#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the results-store tests and prints,
# on stdout and nothing else, the line CI evaluates:
#
#   eval "$(bash .ci/postgres.sh)"   # sets GROKMAP_TEST_PG_URL
#
# Idempotent: installs Debian's postgresql only when no server binaries exist,
# initialises the cluster once, starts it only when it is not running, and
# creates the role and database only when missing. Everything else goes to stderr;
# on failure stdout carries a command that fails, so the eval fails too.
#
# Overrides: GROKMAP_PG_DIR (default $HOME/.cache/grokmap/pg), GROKMAP_PG_PORT (54329),
# GROKMAP_PG_DB (grokmap_test), GROKMAP_PG_USER / GROKMAP_PG_PASSWORD (grokmap / grokmap).
# The server is for tests: fsync is off and the password is not a secret.
set -euo pipefail
exec 3>&1 1>&2

# On failure, hand the caller's eval a failing command, so `set -e` CI scripts stop here
# (an empty $(...) would make eval succeed and the PostgreSQL tests silently skip).
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "echo '.ci/postgres.sh failed (exit $rc); see its messages above' >&2; false" >&3
  fi
}
trap on_exit EXIT

PG_DIR="${GROKMAP_PG_DIR:-$HOME/.cache/grokmap/pg}"
PORT="${GROKMAP_PG_PORT:-54329}"
DB="${GROKMAP_PG_DB:-grokmap_test}"
APP_USER="${GROKMAP_PG_USER:-grokmap}"
APP_PASSWORD="${GROKMAP_PG_PASSWORD:-grokmap}"
DATA="$PG_DIR/data"
SOCKET_DIR="$PG_DIR/run"
LOG="$PG_DIR/postgres.log"

log() { echo "[postgres.sh] $*" >&2; }

# The real server binaries: /usr/local/bin/pg_ctl may be a client-side wrapper,
# so look for a directory holding initdb, pg_ctl and postgres together.
find_server_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! BIN="$(find_server_bin)"; then
  log "no PostgreSQL server binaries under /usr/lib/postgresql; installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    if $SUDO apt-get update -q && $SUDO apt-get install -y -q postgresql; then break; fi
    if [ "$attempt" -eq 3 ]; then
      log "apt-get install postgresql failed after $attempt attempts"
      exit 1
    fi
    sleep $((attempt * 5))
  done
  BIN="$(find_server_bin)" || { log "postgresql installed but no server binaries found"; exit 1; }
fi
log "server binaries: $BIN ($("$BIN/postgres" --version))"

# The server refuses to run as root: as root, run it as the postgres user.
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  if ! getent passwd postgres >/dev/null; then
    log "creating system user postgres"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  RUN_AS=(runuser -u postgres --)
fi

mkdir -p "$DATA" "$SOCKET_DIR"
chmod 700 "$DATA"
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres: "$PG_DIR"
  # The postgres user must be able to reach $PG_DIR (root's home is usually 0700):
  # grant traverse (x) only, never read, on each ancestor it cannot pass.
  dir="$PG_DIR"
  while [ "$dir" != "/" ]; do
    dir="$(dirname "$dir")"
    if ! runuser -u postgres -- test -x "$dir"; then
      log "granting the postgres user traverse permission on $dir"
      if command -v setfacl >/dev/null; then setfacl -m u:postgres:x "$dir"; else chmod o+x "$dir"; fi
    fi
  done
fi

if [ ! -s "$DATA/PG_VERSION" ]; then
  log "initialising cluster in $DATA"
  "${RUN_AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --no-locale >&2
  cat >>"$DATA/postgresql.conf" <<EOF
# grokmap test cluster
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
fi

if "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "server already running"
else
  log "starting server on 127.0.0.1:$PORT (log: $LOG)"
  # fd 3 (our stdout) must not leak into the server, or `$(bash .ci/postgres.sh)` never returns.
  if ! "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start </dev/null >&2 3>&-; then
    log "server failed to start; last lines of $LOG:"
    tail -n 30 "$LOG" >&2 || true
    exit 1
  fi
fi

for _ in $(seq 1 60); do
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then break; fi
  sleep 0.5
done
"$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" >&2 || { log "server not ready on port $PORT"; exit 1; }

psql_admin() {
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres "$@"
}

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER'")" != "1" ]; then
  log "creating role $APP_USER"
  psql_admin -c "CREATE ROLE \"$APP_USER\" LOGIN PASSWORD '$APP_PASSWORD'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  log "creating database $DB"
  psql_admin -c "CREATE DATABASE \"$DB\" OWNER \"$APP_USER\""
fi

URL="postgres://$APP_USER:$APP_PASSWORD@127.0.0.1:$PORT/$DB"
# Check the URL really works (password auth over TCP) before handing it out.
PGPASSWORD="$APP_PASSWORD" "$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$APP_USER" -d "$DB" -tAc 'SELECT 1' >/dev/null
log "ready: $URL"
echo "export GROKMAP_TEST_PG_URL=$URL" >&3

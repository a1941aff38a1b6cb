#!/usr/bin/env bash
# Starts a private PostgreSQL cluster on loopback for the tests and prints
# the environment they read, as `export` lines:
#   eval "$(tests/postgres.sh "$dir")"   # stop it with: tests/postgres.sh --stop "$dir"
#   tests/postgres.sh --restart "$dir"    # start a stopped cluster again, same data and port
# Installs PostgreSQL with apt when it is missing; never assumes a running server.
set -euo pipefail
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
start_cluster() { # bin dir port
  run "$1/pg_ctl" -D "$2/data" -l "$2/postgres.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$3 -c unix_socket_directories=$2 -c fsync=off -c max_connections=300" start >/dev/null
}
if [ "${1:-}" = "--stop" ]; then
  dir=$2
  bin=$(cat "$dir/bin" 2>/dev/null) || exit 0
  run "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  exit 0
fi
if [ "${1:-}" = "--restart" ]; then
  dir=$2
  start_cluster "$(cat "$dir/bin")" "$dir" "$(cat "$dir/port")"
  exit 0
fi
dir=${1:?usage: postgres.sh DIR}

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(find_bin)
if [ -z "$bin" ]; then
  echo "installing PostgreSQL with apt (first run only)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi
# initdb refuses to run as root (hence `run`); the package creates the postgres user.

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
echo "$bin" > "$dir/bin"
echo "$port" > "$dir/port"
run "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >/dev/null
start_cluster "$bin" "$dir" "$port"

echo "export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"

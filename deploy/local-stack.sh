#!/usr/bin/env bash
# Runs the whole local stack: media-svc (with its embedded S3 server) and
# contacts-svc (with SQLite), both on loopback, data under .data/ in the
# repository, and the web console at http://127.0.0.1:50051/#tenant=demo,
# with demo contacts in tenant `demo` the first time. Ctrl-C stops
# everything. No Docker, no external servers.
#
# Without credentials both services run open (allowed on loopback only, and
# logged loudly). To require tokens, set before starting (see the README):
#   CONTACTS_CREDENTIALS  credentials contacts-svc accepts (tenant keys, services)
#   MEDIA_CREDENTIALS     credentials media-svc accepts (services only)
#   MEDIA_TOKEN           the token contacts-svc presents to media-svc
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

deploy/build-deps.sh
if ! command -v npm >/dev/null 2>&1; then
  echo "installing node and npm with apt (first run only)" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm
fi
web/build.sh
# --workspace keeps feature unification (and so the build cache) the same as the tests.
cargo build --workspace --bins
bin_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug

export DATA_DIR="${DATA_DIR:-$repo/.data}"
mkdir -p "$DATA_DIR"

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait
}
trap stop INT TERM EXIT

# Both binaries read CREDENTIALS; each gets its own list here.
CREDENTIALS="${MEDIA_CREDENTIALS:-}" "$bin_dir/media-svc" & pids+=($!)
CREDENTIALS="${CONTACTS_CREDENTIALS:-}" WEB_CONSOLE_DIR="$repo/web/dist" "$bin_dir/contacts-svc" & pids+=($!)
# Demo contacts the first time (the seed leaves a tenant with contacts alone).
for _ in $(seq 240); do "$bin_dir/contacts-svc" healthcheck >/dev/null 2>&1 && break; sleep 0.5; done
"$bin_dir/seed" --tenant demo || echo "could not seed the demo tenant" >&2
echo "local stack: contacts-svc on 127.0.0.1:50051, media-svc on 127.0.0.1:50052, data in $DATA_DIR (Ctrl-C stops)" >&2
echo "console: open http://127.0.0.1:50051/#tenant=demo" >&2
# Stop everything when either service exits on its own.
wait -n

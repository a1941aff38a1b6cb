# Shared by the bench/*.sh scripts (sourced, from the repository root).

# The release build directory, wherever CARGO_TARGET_DIR points.
release_dir() {
  echo "$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
}

# Writes the corpus into $1/bench-corpus unless it is there already, made by
# the current generator (the corpus is made by code: a rebuilt generator may
# make other bytes). Prints the corpus directory.
ensure_corpus() {
  local release=$1 corpus="$1/bench-corpus"
  if [ ! -f "$corpus/.made" ] || [ "$release/corpus" -nt "$corpus/.made" ]; then
    rm -rf "$corpus" && "$release/corpus" --out "$corpus" >&2 && touch "$corpus/.made"
  fi
  echo "$corpus"
}

# Waits up to 20 s for BINARY's gRPC health to be SERVING (its listen address
# comes from the environment, as for the server); shows LOG and fails otherwise.
wait_healthy() {
  local binary=$1 log=$2
  for _ in $(seq 100); do
    "$binary" healthcheck >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  "$binary" healthcheck >/dev/null || { tail -n 20 "$log" >&2; return 1; }
}

# Starts media-svc and contacts-svc from release dir $1 with fresh data in a
# scratch folder (exported as $scratch, removed on exit with the servers),
# on ports ${2}051 (contacts), ${2}052 (media), ${2}053 (embedded S3) and
# ${2}064/${2}065 (metrics), away from the local stack's; waits until both
# are healthy. Extra settings come from the caller's environment; folders
# the caller lists in bench_dirs are removed with it.
bench_dirs=()
start_services() {
  local release=$1 prefix=$2
  scratch=$(mktemp -d)
  bench_pids=()
  trap 'for pid in "${bench_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$scratch" "${bench_dirs[@]}"' EXIT
  export MEDIA_LISTEN=127.0.0.1:${prefix}052 EMBEDDED_S3_LISTEN=127.0.0.1:${prefix}053 CONTACTS_LISTEN=127.0.0.1:${prefix}051
  export MEDIA_ENDPOINT=http://127.0.0.1:${prefix}052 DATA_DIR="$scratch" LOG_FORMAT=json RUST_LOG=warn
  METRICS_LISTEN=127.0.0.1:${prefix}065 "$release/media-svc" >"$scratch/media.log" 2>&1 & bench_pids+=($!)
  METRICS_LISTEN=127.0.0.1:${prefix}064 "$release/contacts-svc" >"$scratch/contacts.log" 2>&1 & bench_pids+=($!)
  wait_healthy "$release/media-svc" "$scratch/media.log"
  wait_healthy "$release/contacts-svc" "$scratch/contacts.log"
}

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

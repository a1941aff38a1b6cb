#!/usr/bin/env bash
# Starts a single-node Garage (a real S3 server) on loopback for the storage
# tests and prints the environment they read, as `export` lines:
#   eval "$(tests/garage.sh "$dir")"      # stop it with: kill "$(cat "$dir/garage.pid")"
# Installs Garage with cargo when it is missing (about 8 minutes cold).
set -euo pipefail
dir=${1:?usage: garage.sh DIR}
tools="${ACCOMMADOR_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/accommador/tools}"
garage="$tools/bin/garage"
if ! "$garage" --version >/dev/null 2>&1; then
  echo "installing Garage into $tools (first run only)" >&2
  cargo install garage --locked --no-default-features --features bundled-libs,sqlite --root "$tools" >&2
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3_port=$(free_port); rpc_port=$(free_port); admin_port=$(free_port)
mkdir -p "$dir"
cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
TOML
g() { "$garage" -c "$dir/garage.toml" "$@"; }

g server > "$dir/garage.log" 2>&1 &
echo $! > "$dir/garage.pid"
for _ in $(seq 1 100); do
  node=$(g node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node" ] && break
  sleep 0.2
done
[ -n "${node:-}" ] || { echo "Garage did not start; log:" >&2; cat "$dir/garage.log" >&2; exit 1; }
g layout assign -z local -c 1G "$node" >/dev/null
g layout apply --version 1 >/dev/null
key=$(g key create accommador-tests)
g key allow --create-bucket accommador-tests >/dev/null
key_id=$(awk -F': *' '/^Key ID/{print $2}' <<<"$key")
secret=$(awk -F': *' '/^Secret key/{print $2}' <<<"$key")

echo "export TEST_GARAGE_ENDPOINT=http://127.0.0.1:$s3_port"
echo "export TEST_GARAGE_ACCESS_KEY_ID=$key_id"
echo "export TEST_GARAGE_SECRET_ACCESS_KEY=$secret"

#!/usr/bin/env bash
# Checks the gRPC contract with buf (rules and their exceptions: buf.yaml at
# the repository root): `buf lint`, then `buf breaking` against the last
# released contract, by default the previous commit (HEAD~1: on main, the
# contract before the change being tested; for a merge, its first parent).
# Set PROTO_BASELINE to another git revision to compare with, e.g. `main` on a
# feature branch or a release tag.
#
# buf comes from the npm package @bufbuild/buf (it ships the binary), pinned
# below and installed into a cache outside the clone when missing, so only
# npm is needed, and apt-get installs npm when it is missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

buf_version=1.75.0
buf_dir="${XDG_CACHE_HOME:-$HOME/.cache}/accommador/buf"
buf="$buf_dir/node_modules/.bin/buf"

if [ "$("$buf" --version 2>/dev/null)" != "$buf_version" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "proto/check.sh: please install npm (it installs buf)" >&2
      exit 1
    fi
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends npm
  fi
  echo "proto/check.sh: installing buf $buf_version into $buf_dir" >&2
  mkdir -p "$buf_dir"
  npm install --prefix "$buf_dir" --no-audit --no-fund --loglevel=error "@bufbuild/buf@$buf_version" >&2
fi

"$buf" lint

# The baseline's .proto files are taken out with git archive (no clone, unlike
# buf's `.git#ref=` input) and checked with today's buf.yaml beside them: both
# sides are then the same module (rooted at proto/, same paths, same ignored
# google/ folder) whatever configuration the baseline had, or none, and buf
# does not look for one in the temporary folder's parents.
baseline="${PROTO_BASELINE:-HEAD~1}"
if ! commit=$(git rev-parse --verify --quiet "$baseline^{commit}"); then
  # A shallow clone hides the baseline rather than lacking one: passing there
  # would let any change through, so only a history without it may skip.
  if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    echo "proto/check.sh: $baseline is outside this shallow clone: fetch it (git fetch --deepen=1) or set PROTO_BASELINE" >&2
    exit 1
  fi
  echo "proto/check.sh: no $baseline (the first commit): nothing to compare with, buf breaking skipped" >&2
  exit 0
fi
if ! git cat-file -e "$commit:proto/accommador" 2>/dev/null; then
  echo "proto/check.sh: $baseline has no contract yet: buf breaking skipped" >&2
  exit 0
fi
against=$(mktemp -d)
trap 'rm -rf "$against"' EXIT
git archive "$commit" -- ':(glob)proto/**/*.proto' | tar -x -C "$against"
cp buf.yaml "$against/"
"$buf" breaking --against "$against"
echo "proto/check.sh: contract lint-clean and compatible with $baseline (${commit:0:12})" >&2

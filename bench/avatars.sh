#!/usr/bin/env bash
# Benchmarks 1 and 2 of the README: media-svc's pipeline against
# vipsthumbnail (one thread) and Pillow on the code-made corpus, CPU time,
# wall time and peak memory per format, and for JPEGs against the floor:
# libjpeg-turbo's djpeg decoding alone at the same DCT scale. Installs the
# peers when missing.
#
#   bench/avatars.sh [--rounds N] [--json FILE]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. bench/lib.sh

deploy/build-deps.sh
command -v vipsthumbnail >/dev/null 2>&1 || {
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q libvips-tools
}
command -v djpeg >/dev/null 2>&1 || {
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q libjpeg-turbo-progs
}
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet Pillow

cargo build --release --bin media-svc --bin corpus
release=$(release_dir)
corpus=$(ensure_corpus "$release")
python3 bench/avatars.py --corpus "$corpus" --media-svc "$release/media-svc" "$@"

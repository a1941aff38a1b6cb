#!/usr/bin/env bash
# Prints `export TEST_CHROMIUM=...`: the Chromium the browser tests drive
# (tests/tests/e2e/browser.rs, through playwright-core, which downloads no
# browser). Installs Debian's chromium, and node and npm, with apt when
# missing, and builds the console (web/dist) the tests load.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} with apt (first run only)" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi
"$repo/web/build.sh" >&2
echo "export TEST_CHROMIUM=$(command -v chromium)"

#!/usr/bin/env bash
# Installs the system tools the build needs when they are missing: cmake and
# nasm build the vendored libjpeg-turbo (with its SIMD code) that media-svc
# decodes JPEGs with. Debian/Ubuntu (apt); elsewhere, install them yourself.
set -euo pipefail
missing=()
for tool in cmake nasm; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "build-deps: please install ${missing[*]} (needed to build libjpeg-turbo)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"

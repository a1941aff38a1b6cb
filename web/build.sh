#!/usr/bin/env bash
# Builds the console into web/dist: the locked dependencies (npm ci, only
# when package-lock.json changed since the last install), the client
# generated from proto/, the bundle.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent

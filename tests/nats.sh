#!/usr/bin/env bash
# Prints `export TEST_NATS_SERVER=...`: the nats-server binary the event
# relay's tests start (one JetStream server per test, on loopback).
# Installs Debian's nats-server (2.9, JetStream built in) with apt when missing.
set -euo pipefail
server=$(command -v nats-server || true)
[ -z "$server" ] && [ -x /usr/sbin/nats-server ] && server=/usr/sbin/nats-server
if [ -z "$server" ]; then
  echo "installing nats-server with apt (first run only)" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >&2
  server=$(command -v nats-server || echo /usr/sbin/nats-server)
fi
echo "export TEST_NATS_SERVER=$server"

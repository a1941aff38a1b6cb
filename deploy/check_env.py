#!/usr/bin/env python3
"""Checks that every environment variable the compose file and the Kubernetes
manifests give a service is one that service's binary accepts, as its --help
lists them (clap prints `[env: NAME=...]`). A misspelt variable would otherwise
be ignored silently and the service would run on a default.

Usage: check_env.py BIN_DIR   (the folder holding contacts-svc and media-svc)
"""
import re
import subprocess
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
SERVICES = ["contacts-svc", "media-svc"]


def accepted(bin_dir: Path, service: str) -> set[str]:
    help_text = subprocess.run([bin_dir / service, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", help_text))


def main() -> int:
    bin_dir = Path(sys.argv[1])
    known = {service: accepted(bin_dir, service) for service in SERVICES}
    problems = []

    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for service in SERVICES:
        for name in compose["services"][service].get("environment", {}):
            if name not in known[service]:
                problems.append(f"docker-compose.yml: {service} sets {name}, which {service} does not read")

    documents = [doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]
    shared = set()
    for doc in documents:
        if doc and doc["kind"] == "ConfigMap":
            shared |= set(doc["data"])
    for name in sorted(shared):
        if not any(name in known[service] for service in SERVICES):
            problems.append(f"k8s ConfigMap sets {name}, which neither service reads")
    deployment_settings = 0
    for doc in documents:
        if not doc or doc["kind"] != "Deployment":
            continue
        service = doc["metadata"]["name"]
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                deployment_settings += 1
                if variable["name"] not in known[service]:
                    problems.append(f"k8s {service} sets {variable['name']}, which {service} does not read")

    for problem in problems:
        print(problem, file=sys.stderr)
    checked = len(shared) + deployment_settings + sum(len(compose["services"][s].get("environment", {})) for s in SERVICES)
    print(f"environment check: {checked} settings checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Asserts the deployment's security properties, so that a regression fails CI
rather than waiting for someone to notice (issue 13, points 5 and 8).

Compose (resolved by docker-compose itself, as `up` would resolve it):
  - only contacts-svc's API and MinIO's S3 port are published, on 127.0.0.1
    only; MinIO's console is off; signed URLs point at the published S3 port;
  - every secret of .env.example is `${NAME:?...}` wherever it is used, and the
    `preflight` service, which every other service waits for, refuses the
    CHANGE_ME placeholders: its script is run here, against .env.example (must
    fail and name every secret) and a make-env.sh output (must pass);
  - .env.example, make-env.sh and the compose file name the same variables;
  - our two services run read-only, without capabilities or privilege
    escalation, and their health checks mean readiness.
Kubernetes (the files the documented `kubectl apply` reads):
  - every container: seccomp RuntimeDefault, capabilities drop ALL (none
    added), runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation
    false, not privileged; no host namespaces, host paths or host ports; no
    service account token;
  - probes: liveness (and startup) ask the `liveness` service on the plaintext
    `health` port that HEALTH_LISTEN binds, readiness asks the empty service
    there; none touches the main port;
  - a NetworkPolicy isolates media-svc: its gRPC port only from contacts-svc
    pods, its metrics port only from selected (Prometheus) pods, and only when
    the pods are scraped; nothing else;
  - no Secret and no CHANGE_ME placeholder among the applied files; the example
    Secret (k8s/secrets.env.example) is outside them and holds every key the
    Deployments read.

Usage: check_hardening.py   (needs docker-compose, sh and PyYAML)
"""
import ipaddress
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import yaml

DEPLOY = Path(__file__).resolve().parent
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
SECRET_EXAMPLE = DEPLOY / "k8s" / "secrets.env.example"
README = DEPLOY / "README.md"
PLACEHOLDER = "CHANGE_ME"
OUR_SERVICES = ["contacts-svc", "media-svc"]
# What a laptop user needs from the host: contacts-svc's API, and MinIO's S3
# port, where the signed picture URLs point. Nothing else is published.
PUBLISHED = {("contacts-svc", 50051), ("minio", 9000)}
PREFLIGHT = "preflight"
WAITING = {"service_healthy", "service_completed_successfully"}
# What `kubectl apply -f DIR` reads in a folder.
KUBECTL_EXTENSIONS = {".yaml", ".yml", ".json"}
HEALTH_PORT_NAME = "health"
LIVENESS_SERVICE = "liveness"

problems: list[str] = []


def problem(message: str) -> None:
    problems.append(message)


def read_env_file(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            entries[name.strip()] = value
    return entries


def clean_environment() -> dict[str, str]:
    # docker-compose lets the caller's environment override the env file: a
    # stray variable in CI must not change the verdict.
    return {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}


def compose_config(env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "--env-file", str(env_file), "config"],
        capture_output=True, text=True, env=clean_environment(),
    )


def parse_port(entry) -> tuple[str | None, int | None, int]:
    """(host ip, published port, container port) of a compose port entry,
    short ("127.0.0.1:9000:9000/tcp") or long ({host_ip, published, target})."""
    if isinstance(entry, dict):
        published = entry.get("published")
        return entry.get("host_ip"), int(published) if published else None, int(entry["target"])
    text = str(entry).split("/")[0]
    match = re.fullmatch(r"(?:(\[[^\]]+\]|[^:]+):)?(?:(\d+):)?(\d+)", text)
    if not match:
        raise ValueError(f"unrecognised port entry {entry!r}")
    host_ip, published, target = match.groups()
    if host_ip and not published:  # "9000:9000": the first part is the published port
        host_ip, published = None, host_ip
    return (host_ip.strip("[]") if host_ip else None), (int(published) if published else None), int(target)


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def depends_on(service: dict) -> dict[str, str]:
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return {name: "service_started" for name in value}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in value.items()}


def preflight_script(config: dict) -> tuple[list[str], dict[str, str]]:
    service = config["services"][PREFLIGHT]
    entrypoint = service.get("entrypoint") or []
    command = service.get("command") or []
    if isinstance(entrypoint, str) or isinstance(command, str) or entrypoint[:1] != ["/bin/sh"]:
        raise ValueError("preflight must be `entrypoint: [/bin/sh, ...]` with its script as the command")
    # Compose turns `$$` into `$` when it runs the container; `config` keeps `$$`.
    argv = ["sh", *entrypoint[1:], *[part.replace("$$", "$") for part in command]]
    environment = {name: "" if value is None else str(value) for name, value in (service.get("environment") or {}).items()}
    return argv, environment


def run_preflight(config: dict) -> subprocess.CompletedProcess:
    argv, environment = preflight_script(config)
    return subprocess.run(argv, capture_output=True, text=True, env={**clean_environment(), **environment})


def check_compose() -> None:
    example = read_env_file(ENV_EXAMPLE.read_text())
    secrets = sorted(name for name, value in example.items() if PLACEHOLDER in value)
    if not secrets:
        problem(".env.example: no CHANGE_ME placeholder, so nothing marks which values are secrets")

    # The three files agree on the variables.
    made = subprocess.run([DEPLOY / "make-env.sh"], capture_output=True, text=True, check=True).stdout
    fresh = read_env_file(made)
    if set(fresh) != set(example):
        problem(f"make-env.sh and .env.example disagree: only in make-env.sh {sorted(set(fresh) - set(example))}, "
                f"only in .env.example {sorted(set(example) - set(fresh))}")
    for name, value in fresh.items():
        if not value or PLACEHOLDER in value:
            problem(f"make-env.sh writes an empty or placeholder {name}")
    # Comments (YAML's and the scripts') may mention `${NAME}` without using it.
    raw = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    references = re.findall(r"(?<!\$)\$\{([A-Za-z0-9_]+)([^}]*)\}", raw)
    # `${NAME:-default}` everywhere makes NAME optional: .env.example documents it in a comment.
    required = {name for name, operator in references if not operator.startswith(":-")}
    for name in sorted(required - set(example)):
        problem(f"docker-compose.yml uses ${{{name}}}, which .env.example does not list")
    for name in sorted({name for name, _ in references} - required - set(example)):
        if not re.search(rf"^#\s*{name}=", ENV_EXAMPLE.read_text(), re.M):
            problem(f"docker-compose.yml takes an optional ${{{name}}} that .env.example does not mention")
    for name, operator in references:
        if name in secrets and not operator.startswith(":?"):
            problem(f"docker-compose.yml: ${{{name}{operator}}} lets a missing or empty secret through; use ${{{name}:?...}}")

    result = compose_config(ENV_EXAMPLE)
    if result.returncode != 0:
        problem(f"docker-compose config fails with .env.example: {result.stderr.strip()}")
        return
    config = yaml.safe_load(result.stdout)
    services = config["services"]

    # Published ports: exactly the expected ones, on loopback only.
    published = {}
    for name, service in services.items():
        if service.get("network_mode") == "host":
            problem(f"docker-compose.yml: {name} uses the host's network, which bypasses port publishing")
        for entry in service.get("ports") or []:
            try:
                host_ip, host_port, target = parse_port(entry)
            except ValueError as error:
                problem(f"docker-compose.yml: {name}: {error}")
                continue
            if not is_loopback(host_ip):
                problem(f"docker-compose.yml: {name} publishes {target} on {host_ip or 'every interface'}, not 127.0.0.1")
            if (name, target) not in PUBLISHED:
                problem(f"docker-compose.yml: {name} publishes port {target}, which a laptop user does not need")
            published[(name, target)] = (host_ip, host_port)
    for name, target in sorted(PUBLISHED - set(published)):
        problem(f"docker-compose.yml: {name} does not publish {target}")

    minio = services.get("minio", {})
    if (minio.get("environment") or {}).get("MINIO_BROWSER") != "off":
        problem("docker-compose.yml: MinIO's console is not off (MINIO_BROWSER: \"off\")")
    if any("console-address" in str(part) for part in minio.get("command") or []):
        problem("docker-compose.yml: MinIO is given a console address")

    # Signed URLs must point at the published S3 port, or browsers cannot fetch them.
    public = (services.get("media-svc", {}).get("environment") or {}).get("S3_PUBLIC_ENDPOINT", "")
    url = urlsplit(public)
    s3_ports = {host_port for (name, _), (_, host_port) in published.items() if name == "minio"}
    if not is_loopback(url.hostname) or url.port not in s3_ports:
        problem(f"docker-compose.yml: S3_PUBLIC_ENDPOINT {public!r} is not MinIO's published loopback port")

    # The placeholders are refused before anything keeps them.
    if PREFLIGHT not in services:
        problem(f"docker-compose.yml: no `{PREFLIGHT}` service refusing the CHANGE_ME placeholders")
        return
    preflight_env = services[PREFLIGHT].get("environment") or {}
    for name in secrets:
        if name not in preflight_env:
            problem(f"docker-compose.yml: {PREFLIGHT} does not check {name}")

    def waits_for_preflight(name: str, seen: frozenset = frozenset()) -> bool:
        for dependency, condition in depends_on(services[name]).items():
            if dependency == PREFLIGHT and condition == "service_completed_successfully":
                return True
            if condition in WAITING and dependency in services and dependency not in seen \
                    and waits_for_preflight(dependency, seen | {name}):
                return True
        return False

    for name in services:
        if name != PREFLIGHT and not waits_for_preflight(name):
            problem(f"docker-compose.yml: {name} can start before {PREFLIGHT} succeeded")

    try:
        refused = run_preflight(config)
        if refused.returncode == 0:
            problem(f"{PREFLIGHT} accepts .env.example's CHANGE_ME placeholders")
        output = refused.stdout + refused.stderr
        for name in secrets:
            if not re.search(rf"\b{name}\b", output):
                problem(f"{PREFLIGHT} does not name {name} when it holds CHANGE_ME")
        with tempfile.TemporaryDirectory() as scratch:
            env_file = Path(scratch) / ".env"
            env_file.write_text(made)
            accepted = compose_config(env_file)
            if accepted.returncode != 0:
                problem(f"docker-compose config fails with a make-env.sh output: {accepted.stderr.strip()}")
            else:
                passed = run_preflight(yaml.safe_load(accepted.stdout))
                if passed.returncode != 0:
                    problem(f"{PREFLIGHT} refuses a make-env.sh output: {(passed.stdout + passed.stderr).strip()}")
            # An empty secret stops compose itself (`:?`), whichever it is.
            for name in secrets:
                env_file.write_text("".join(f"{key}={'' if key == name else value}\n" for key, value in fresh.items()))
                if compose_config(env_file).returncode == 0:
                    problem(f"docker-compose config accepts an empty {name}")
    except ValueError as error:
        problem(f"docker-compose.yml: {error}")

    for name in OUR_SERVICES:
        service = services.get(name, {})
        if service.get("read_only") is not True:
            problem(f"docker-compose.yml: {name} has a writable root file system (read_only: true)")
        if "ALL" not in (service.get("cap_drop") or []) or service.get("cap_add"):
            problem(f"docker-compose.yml: {name} keeps capabilities (cap_drop: [ALL], no cap_add)")
        if not any(option.replace("=", ":") in ("no-new-privileges", "no-new-privileges:true")
                   for option in service.get("security_opt") or []):
            problem(f"docker-compose.yml: {name} may gain privileges (security_opt: no-new-privileges:true)")
        if service.get("privileged"):
            problem(f"docker-compose.yml: {name} is privileged")
        test = (service.get("healthcheck") or {}).get("test") or []
        if "healthcheck" not in test or "--liveness" in test:
            problem(f"docker-compose.yml: {name}'s health check is not readiness (`{name} healthcheck`), "
                    "so depends_on: service_healthy would not mean ready")


def documented_apply() -> list[Path] | None:
    """The files that deploy/README.md's `kubectl apply` commands read."""
    commands = re.findall(r"kubectl apply([^`\n]*)", README.read_text())
    files: list[Path] = []
    named = False
    repo = DEPLOY.parent
    for arguments in commands:
        words = arguments.split()
        recursive = "-R" in words or "--recursive" in words
        targets = [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-f", "--filename")]
        targets += [word.split("=", 1)[1] for word in words if word.startswith("--filename=")]
        if any(word in ("-k", "--kustomize") or word.startswith("--kustomize=") for word in words):
            problem("deploy/README.md documents a kustomize apply, which this check cannot follow")
        for target in targets:
            named = True
            path = repo / target
            if not path.exists():
                problem(f"deploy/README.md: `kubectl apply` reads {target}, which does not exist")
            elif path.is_dir():
                walk = path.rglob("*") if recursive else path.glob("*")
                files += sorted(p for p in walk if p.is_file() and p.suffix in KUBECTL_EXTENSIONS)
            else:
                files.append(path)
    return files if named else None


def pod_templates(doc: dict) -> list[dict]:
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        return [doc]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]]
    if "template" in spec and kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return [spec["template"]]
    return []


def check_pod_security(where: str, pod: dict) -> None:
    spec = pod.get("spec") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problem(f"{where}: {field} is on")
    if spec.get("automountServiceAccountToken") is not False:
        problem(f"{where}: mounts a service account token (automountServiceAccountToken: false)")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            problem(f"{where}: volume {volume.get('name')} is a hostPath")
    pod_context = spec.get("securityContext") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or []),
                  *(spec.get("ephemeralContainers") or [])]
    for container in containers:
        name = f"{where}, container {container.get('name')}"
        context = container.get("securityContext") or {}

        def effective(field):
            return context[field] if context.get(field) is not None else pod_context.get(field)

        if effective("runAsNonRoot") is not True:
            problem(f"{name}: runAsNonRoot is not true")
        if effective("runAsUser") == 0:
            problem(f"{name}: runs as user 0")
        if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problem(f"{name}: seccompProfile is not RuntimeDefault")
        if context.get("allowPrivilegeEscalation") is not False:
            problem(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("readOnlyRootFilesystem") is not True:
            problem(f"{name}: readOnlyRootFilesystem is not true")
        if context.get("privileged"):
            problem(f"{name}: privileged")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problem(f"{name}: capabilities do not drop ALL")
        if capabilities.get("add"):
            problem(f"{name}: adds capabilities {capabilities['add']}")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problem(f"{name}: hostPort {port['hostPort']}")


def check_probes(where: str, container: dict) -> None:
    ports = {port.get("name"): port["containerPort"] for port in container.get("ports") or []}
    health = ports.get(HEALTH_PORT_NAME)
    if health is None:
        problem(f"{where}: no container port named `{HEALTH_PORT_NAME}`")
        return
    listen = next((variable.get("value") for variable in container.get("env") or []
                   if variable.get("name") == "HEALTH_LISTEN"), None)
    match = re.fullmatch(r"\[?([^\]]*)\]?:(\d+)", listen or "")
    if not match or int(match.group(2)) != health:
        problem(f"{where}: HEALTH_LISTEN ({listen!r}) does not bind the `{HEALTH_PORT_NAME}` port {health}")
    elif match.group(1) not in ("0.0.0.0", "::"):
        problem(f"{where}: HEALTH_LISTEN {listen!r} is not reachable from the kubelet (bind 0.0.0.0)")
    for probe_name, wanted in (("livenessProbe", LIVENESS_SERVICE), ("startupProbe", LIVENESS_SERVICE),
                               ("readinessProbe", "")):
        probe = container.get(probe_name)
        if probe is None:
            if probe_name != "startupProbe":
                problem(f"{where}: no {probe_name}")
            continue
        grpc = probe.get("grpc")
        if grpc is None:
            problem(f"{where}: {probe_name} is not a gRPC health probe")
            continue
        if grpc.get("port") != health:
            problem(f"{where}: {probe_name} probes port {grpc.get('port')}, not the plaintext health port {health}")
        if (grpc.get("service") or "") != wanted:
            meaning = "liveness, which never depends on S3 or the database" if wanted else "readiness"
            problem(f"{where}: {probe_name} asks service {grpc.get('service')!r}; it must be {wanted!r} ({meaning})")


def selects(selector: dict, labels: dict) -> bool | None:
    """Whether a label selector matches these labels (None: cannot tell)."""
    if selector.get("matchExpressions"):
        return None
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items())


def check_network_policy(documents: list[dict]) -> None:
    deployments = {doc["metadata"]["name"]: doc for doc in documents if doc.get("kind") == "Deployment"}
    if "media-svc" not in deployments or "contacts-svc" not in deployments:
        problem("k8s: the media-svc and contacts-svc Deployments are not both among the applied files")
        return
    media_pod = deployments["media-svc"]["spec"]["template"]
    media_labels = media_pod["metadata"].get("labels") or {}
    contacts_labels = deployments["contacts-svc"]["spec"]["template"]["metadata"].get("labels") or {}
    named_ports = {port["name"]: port["containerPort"]
                   for container in media_pod["spec"]["containers"] for port in container.get("ports") or []
                   if port.get("name")}
    grpc_port, metrics_port = named_ports.get("grpc"), named_ports.get("metrics")

    policies = []
    for doc in documents:
        if doc.get("kind") != "NetworkPolicy":
            continue
        spec = doc.get("spec") or {}
        matched = selects(spec.get("podSelector") or {}, media_labels)
        if matched is None:
            problem(f"NetworkPolicy {doc['metadata']['name']}: matchExpressions, which this check cannot evaluate")
        elif matched:
            policies.append(spec)
    isolating = [spec for spec in policies
                 if "Ingress" in (spec.get("policyTypes") or ["Ingress"])]
    if not isolating:
        problem("k8s: no NetworkPolicy with Ingress selects the media-svc pods, so any pod can call media-svc")
        return

    allowed: set[int] = set()
    for spec in isolating:
        for rule in spec.get("ingress") or []:
            ports = rule.get("ports") or []
            peers = rule.get("from") or []
            if not ports:
                problem("media-svc NetworkPolicy: a rule without ports allows every port")
            if not peers:
                problem("media-svc NetworkPolicy: a rule without `from` allows every source")
            # A rule without ports opens every port.
            numbers = set() if ports else set(named_ports.values())
            for port in ports:
                number = named_ports.get(port.get("port")) if isinstance(port.get("port"), str) else port.get("port")
                if number is None:
                    problem(f"media-svc NetworkPolicy: port {port.get('port')!r} is not one of media-svc's ports")
                    continue
                numbers |= set(range(number, (port.get("endPort") or number) + 1))
            allowed |= numbers
            for number in sorted(numbers - {grpc_port, metrics_port}):
                problem(f"media-svc NetworkPolicy: allows port {number}; only gRPC (from contacts-svc) and "
                        "metrics (from Prometheus) should be reachable (the kubelet's probes need no rule)")
            for peer in peers:
                pods = peer.get("podSelector")
                if grpc_port in numbers:
                    if set(peer) != {"podSelector"}:
                        problem(f"media-svc NetworkPolicy: gRPC allowed from {sorted(peer)}; only contacts-svc "
                                "pods of this namespace (a bare podSelector) may call it")
                    elif not (pods or {}).get("matchLabels") or selects(pods, contacts_labels) is not True \
                            or selects(pods, media_labels) is not False:
                        problem(f"media-svc NetworkPolicy: gRPC allowed from pods {pods}, which is not exactly contacts-svc")
                elif not (pods or {}).get("matchLabels") or "ipBlock" in peer:
                    problem(f"media-svc NetworkPolicy: metrics allowed from {peer}, not from selected pods only")
    if grpc_port not in allowed:
        problem("media-svc NetworkPolicy: contacts-svc cannot reach media-svc's gRPC port")
    annotations = media_pod["metadata"].get("annotations") or {}
    if annotations.get("prometheus.io/scrape") == "true":
        scraped = int(annotations.get("prometheus.io/port", metrics_port or 0))
        if scraped not in allowed:
            problem(f"media-svc NetworkPolicy: the pods are scraped on {scraped}, which the policy blocks")
    elif metrics_port in allowed:
        problem("media-svc NetworkPolicy: opens metrics although the pods are not annotated for scraping")


def check_kubernetes() -> None:
    applied = documented_apply()
    if applied is None:
        problem("deploy/README.md documents no `kubectl apply -f ...`")
        return
    documents = []
    for path in applied:
        if path == SECRET_EXAMPLE:
            problem(f"the documented kubectl apply reads the example Secret {path.relative_to(DEPLOY)}")
            continue
        text = path.read_text()
        if PLACEHOLDER in text:
            problem(f"{path.relative_to(DEPLOY)}: CHANGE_ME placeholders in a file the documented kubectl apply reads")
        try:
            loaded = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            problem(f"{path.relative_to(DEPLOY)}: not YAML ({error})")
            continue
        for doc in loaded:
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "Secret":
                problem(f"{path.relative_to(DEPLOY)}: a Secret in a file the documented kubectl apply reads")
            documents.append(doc)

    referenced = set()
    for doc in documents:
        for pod in pod_templates(doc):
            where = f"k8s {doc['kind']} {doc['metadata']['name']}"
            check_pod_security(where, pod)
            for container in pod["spec"].get("containers") or []:
                check_probes(f"{where}, container {container.get('name')}", container)
                for variable in container.get("env") or []:
                    ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        referenced.add((ref["name"], ref["key"]))
    check_network_policy(documents)

    if not SECRET_EXAMPLE.exists():
        problem(f"{SECRET_EXAMPLE.relative_to(DEPLOY)} is missing")
        return
    example_keys = set(read_env_file(SECRET_EXAMPLE.read_text()))
    for name, key in sorted(referenced):
        if name != "accommador-secrets":
            problem(f"k8s: a Deployment reads Secret {name}, which secrets.env.example does not describe")
        elif key not in example_keys:
            problem(f"k8s: a Deployment reads {key} from accommador-secrets, missing in secrets.env.example")


def check_dockerfile() -> None:
    users = re.findall(r"^USER\s+(\S+)", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)
    # Numeric, so that the kubelet can verify runAsNonRoot without /etc/passwd.
    if not users or not users[-1].isdigit() or int(users[-1]) == 0:
        problem(f"Dockerfile: the runtime USER ({users[-1] if users else 'none'}) is not a numeric non-root id")


def main() -> int:
    check_compose()
    check_kubernetes()
    check_dockerfile()
    for message in problems:
        print(message, file=sys.stderr)
    print(f"hardening check: compose ports, secrets and preflight; k8s security contexts, probes, "
          f"NetworkPolicy and example Secret; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

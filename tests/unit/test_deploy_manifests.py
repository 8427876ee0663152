"""The deployment files are valid: Kubernetes manifests against the Kubernetes schemas (kubernetes-validate,
strict), rendered by kustomize; the compose file against the Compose Specification (compose-spec). And safe: secrets
without defaults, Redis with a password, resource limits everywhere, images pinned, the API and the dispatcher on the
slim image (tests/unit/test_slim_image.py proves it runs), Grafana on the read-only role."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from compose_spec import PyCompose

ROOT = Path(__file__).resolve().parents[2]


def _k8s_documents() -> list[dict]:  # type: ignore[type-arg]
    kubectl = shutil.which("kubectl")
    if kubectl:  # kustomize, as `kubectl apply -k` would render it
        rendered = subprocess.run(
            [kubectl, "kustomize", str(ROOT / "deploy/k8s")], capture_output=True, text=True, check=True
        ).stdout
        return [d for d in yaml.safe_load_all(rendered) if d]
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())
    documents = [
        d for f in kustomization["resources"] for d in yaml.safe_load_all((ROOT / "deploy/k8s" / f).read_text()) if d
    ]
    images = {i["name"]: i for i in kustomization.get("images", [])}  # kustomize's `images:` rewrite
    for document in documents:
        pod = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            name, _, tag = container["image"].partition(":")
            if name in images:
                new = images[name]
                container["image"] = f"{new.get('newName', name)}:{new.get('newTag', tag or 'latest')}"
    return documents


def test_kubernetes_manifests_validate_strictly() -> None:
    documents = _k8s_documents()
    kinds = sorted(d["kind"] for d in documents)
    assert kinds.count("Deployment") == 4 and "HorizontalPodAutoscaler" in kinds and "Job" in kinds
    for document in documents:
        kubernetes_validate.validate(document, "1.32", strict=True)
    triton = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "triton")
    assert triton["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    hpa = next(d for d in documents if d["kind"] == "HorizontalPodAutoscaler")
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    assert hpa["spec"]["maxReplicas"] <= int(config["data"]["RADAR_TOPIC_PARTITIONS"])  # no idle workers


def test_compose_file_follows_the_compose_specification() -> None:
    # yaml resolves the merge keys (<<) as Compose does; the spec model then checks the document it acts on
    document = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())
    compose = PyCompose.from_json(json.dumps(document))
    services = document["services"]
    assert {"kafka", "redis", "postgres", "triton", "init", "worker", "dispatcher", "api", "grafana"} <= set(services)
    assert compose.get_service("triton") is not None
    gpu = services["triton"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert (ROOT / services["api"]["build"]["context"].replace("../..", ".") / "deploy/compose/Dockerfile").exists()


def test_kubernetes_runs_nothing_as_root_denies_ingress_by_default_and_never_applies_a_secret() -> None:
    documents = _k8s_documents()
    assert not [d for d in documents if d["kind"] == "Secret"], "kubectl apply -k would overwrite the real secrets"
    example = [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/secrets.example.yaml").read_text()) if d]
    assert [d["kind"] for d in example] == ["Secret"] and example[0]["metadata"]["name"] == "radar-secrets"
    for workload in (d for d in documents if d["kind"] in ("Deployment", "Job")):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"]
    policies = {d["metadata"]["name"]: d for d in documents if d["kind"] == "NetworkPolicy"}
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny


def test_images_run_as_a_user_and_compose_publishes_consoles_on_loopback_only() -> None:
    dockerfile = (ROOT / "deploy/compose/Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and not users[-1].startswith(("0", "root")), users
    services = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())["services"]
    for name in ("prometheus", "grafana"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), (name, services[name]["ports"])
    assert "?" in services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]  # required: never admin/admin


# --- the security review: required secrets, Redis AUTH, resource limits, pinned images, slim image, Grafana role ---

COMPOSE = ROOT / "deploy/compose/compose.yaml"
DOCKERFILE = ROOT / "deploy/compose/Dockerfile"
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


class MissingVariable(KeyError):
    pass


def _interpolate(value: object, env: dict[str, str]) -> object:
    """Compose's interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}, $$) over a loaded document."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        if op in (":?", "?") and not env.get(name):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and not env.get(name):
            return arg
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def _compose_env() -> dict[str, str]:
    names = {m.group("name") or m.group("bare") for m in _VARIABLE.finditer(COMPOSE.read_text())} - {None}
    return {name: f"value-of-{name.lower().replace('_', '-')}" for name in names}


def _services(env: dict[str, str] | None = None) -> dict[str, dict]:
    document = yaml.safe_load(COMPOSE.read_text())
    return _interpolate(document, _compose_env() if env is None else env)["services"]  # type: ignore[index]


def _workloads() -> list[dict]:
    return [d for d in _k8s_documents() if d["kind"] in ("Deployment", "Job")]


def _containers(workload: dict) -> list[dict]:
    pod = workload["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod["containers"]


def _version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_secrets_have_no_defaults_in_compose() -> None:
    text = COMPOSE.read_text()
    secrets = [m for m in _VARIABLE.finditer(text) if re.search(r"PASSWORD|TOKEN", m.group("name") or "")]
    assert secrets and all(m.group("op") == ":?" for m in secrets), [
        m.group(0) for m in secrets if m.group("op") != ":?"
    ]
    assert "${RADAR_PG_PASSWORD:?" in text and "RADAR_PG_PASSWORD:-" not in text
    for name in ("RADAR_PG_PASSWORD", "RADAR_REDIS_PASSWORD", "RADAR_PG_ANALYST_PASSWORD"):
        env = {k: v for k, v in _compose_env().items() if k != name}
        with pytest.raises(MissingVariable, match=name):  # `docker compose up` refuses to start without it
            _services(env)
    services = _services()
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "value-of-radar-pg-password"
    for name in ("init", "worker", "dispatcher", "api"):
        url = urlsplit(services[name]["environment"]["RADAR_DATABASE_URL"])
        assert (url.username, url.password) == ("radar", "value-of-radar-pg-password"), name


def test_redis_requires_a_password_the_services_and_the_healthcheck_send() -> None:
    services = _services()
    password = "value-of-radar-redis-password"
    command = services["redis"]["command"]
    assert command[command.index("--requirepass") + 1] == password
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    # redis-cli reads REDISCLI_AUTH; `ping | grep PONG` fails on a NOAUTH reply, which redis-cli may exit 0 on
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == password
    assert "redis-cli ping" in services["redis"]["healthcheck"]["test"][1] and "PONG" in str(
        services["redis"]["healthcheck"]["test"]
    )
    for name in ("init", "worker", "dispatcher", "api"):
        url = urlsplit(services[name]["environment"]["RADAR_REDIS_URL"])
        assert (url.hostname, url.port, url.password) == ("redis", 6379, password), name
    # Kubernetes (a managed Redis): the URL carries the password, so it is in the Secret, not in the ConfigMap
    config = next(d for d in _k8s_documents() if d["kind"] == "ConfigMap")["data"]
    assert "RADAR_REDIS_URL" not in config
    assert not [k for k, v in config.items() if urlsplit(str(v)).password], "a password in the ConfigMap"
    secret = yaml.safe_load((ROOT / "deploy/k8s/secrets.example.yaml").read_text())["stringData"]
    assert urlsplit(secret["RADAR_REDIS_URL"]).password
    for workload in _workloads():
        for container in _containers(workload):
            refs = container.get("envFrom", [])
            if {"configMapRef": {"name": "radar-config"}} in refs:
                assert {"secretRef": {"name": "radar-secrets"}} in refs, container["name"]


_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}


def _bytes(quantity: str | int) -> int:
    number, unit = re.fullmatch(r"([\d.]+)([a-zA-Z]*)", str(quantity)).groups()  # type: ignore[union-attr]
    unit = unit.lower()
    return int(float(number) * _UNITS[unit[:-1] if len(unit) > 1 and unit.endswith("b") else unit])


def _cpus(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_every_service_and_container_has_resource_limits() -> None:
    assert _bytes("512Mi") == 512 * 2**20 and _bytes("2G") == 2 * 10**9 and _cpus("250m") == 0.25
    services = _services()
    for name, service in services.items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert _bytes(limits.get("memory", "0")) > 0 and _cpus(limits.get("cpus", 0)) > 0, name
    assert _bytes(services["worker"]["deploy"]["resources"]["limits"]["memory"]) >= 2 * 2**30  # torch
    assert services["worker"]["deploy"]["replicas"] == 2
    gpu = services["triton"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    redis = services["redis"]["command"]  # a full Redis refuses writes before the container is OOM-killed
    maxmemory = redis[redis.index("--maxmemory") + 1]
    assert _bytes(maxmemory) < _bytes(services["redis"]["deploy"]["resources"]["limits"]["memory"])
    for workload in _workloads():
        for container in _containers(workload):
            resources = container.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert {"cpu", "memory"} <= set(requests) and {"cpu", "memory"} <= set(limits), where
            assert _cpus(requests["cpu"]) <= _cpus(limits["cpu"]), where
            assert _bytes(requests["memory"]) <= _bytes(limits["memory"]), where


def _pinned(reference: str) -> bool:
    """An exact release: a digest, or a tag with the whole version: x.y.z, or x.y where a release has two numbers
    (PostgreSQL since 10: 15.18; NGC's monthly YY.MM)."""
    if re.search(r"@sha256:[0-9a-f]{64}$", reference):
        return True
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:  # no tag at all (registry:port/name has its colon before a slash)
        return False
    numbers = 2 if name.rsplit("/", 1)[-1] == "postgres" or name.startswith("nvcr.io/nvidia/") else 3
    return re.fullmatch(rf"v?\d+(\.\d+){{{numbers - 1}}}([.+-][\w.-]+)?", tag) is not None


def _dockerfile_stages() -> dict[str, str]:
    """Stage name -> its instructions (comments left out), its FROM line first."""
    instructions = "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("#"))
    stages: dict[str, str] = {}
    for chunk in re.split(r"(?m)^(?=FROM )", instructions):
        if match := re.match(r"FROM \S+ AS (\w+)", chunk):
            stages[match.group(1)] = chunk
    return stages


def test_every_image_is_pinned_to_an_exact_release() -> None:
    for bad in ("redis:7", "redis:7.4", "postgres:15", "python:3.11-slim", "x:latest", "x", "localhost:5000/x"):
        assert not _pinned(bad), bad
    for good in ("redis:7.4.6", "python:3.11.14-slim-bookworm", "postgres:15.18", "localhost:5000/x:1.2.3"):
        assert _pinned(good), good
    images = {name: s["image"] for name, s in _services().items() if "image" in s}
    assert set(images) == set(_services()), "every compose service names its image"
    images |= {f"k8s {w['metadata']['name']}/{c['name']}": c["image"] for w in _workloads() for c in _containers(w)}
    stages = _dockerfile_stages()
    bases = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")]
    images |= {f"FROM {b}": b for b in bases if b not in stages}
    assert [b for b in bases if b not in stages], "a FROM outside the Dockerfile's own stages"
    assert not [f"{where}: {ref}" for where, ref in images.items() if not _pinned(ref)]
    # our own images carry the release's version, in compose and in the kustomization
    version = _version()
    assert images["worker"] == f"opinion-radar:{version}" and images["api"] == f"opinion-radar-slim:{version}"
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())
    tags = {i["name"]: i["newTag"] for i in kustomization["images"]}
    assert tags == {"opinion-radar": version, "opinion-radar-slim": version}


def test_the_api_and_the_dispatcher_run_the_slim_image() -> None:
    stages = _dockerfile_stages()
    assert {"base", "slim", "full"} <= set(stages), list(stages)
    assert list(stages)[-1] == "full", "a build without --target keeps giving the full image"
    assert "localdev" not in stages["base"] + stages["slim"] and "COPY localdev" in stages["full"]
    for stage in ("slim", "full"):
        assert 'ENTRYPOINT ["radar"]' in stages[stage], stage
        users = [line.split()[1] for line in stages[stage].splitlines() if line.startswith("USER ")]
        assert users and not users[-1].startswith(("0", "root")), (stage, users)
    version = _version()
    services = _services()
    for name, target, image in [
        ("api", "slim", "opinion-radar-slim"),
        ("dispatcher", "slim", "opinion-radar-slim"),
        ("worker", "full", "opinion-radar"),
        ("init", "full", "opinion-radar"),
    ]:
        assert services[name]["build"]["target"] == target, name
        assert services[name]["image"] == f"{image}:{version}", name
        assert services[name]["build"]["dockerfile"] == "deploy/compose/Dockerfile", name
    slim = {"radar-api", "radar-dispatcher"}
    for workload in (w for w in _workloads() if w["metadata"]["name"].startswith("radar-")):
        expected = "opinion-radar-slim" if workload["metadata"]["name"] in slim else "opinion-radar"
        for container in _containers(workload):
            assert container["image"].rpartition(":")[0].rsplit("/", 1)[-1] == expected, workload["metadata"]["name"]


def test_grafana_reads_as_the_read_only_role_created_at_the_first_start(tmp_path: Path) -> None:
    migration = next((ROOT / "storage/migrations/versions").glob("0006_*.py")).read_text()
    role = re.search(r"^ROLE = '(\w+)'", migration, flags=re.M).group(1)  # type: ignore[union-attr]
    assert role == "radar_analyst"
    services = _services()
    grafana = services["grafana"]["environment"]
    assert grafana["RADAR_PG_USER"] == role and grafana["RADAR_PG_PASSWORD"] == "value-of-radar-pg-analyst-password"
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/radar.yaml").read_text())
    postgres_source = next(d for d in datasource["datasources"] if d["type"] == "grafana-postgresql-datasource")
    assert postgres_source["user"] == "${RADAR_PG_USER}"
    assert postgres_source["secureJsonData"]["password"] == "${RADAR_PG_PASSWORD}"
    postgres = services["postgres"]
    assert postgres["environment"]["RADAR_PG_ANALYST_PASSWORD"] == "value-of-radar-pg-analyst-password"
    mount = next(v for v in postgres["volumes"] if ":/docker-entrypoint-initdb.d" in v)
    initdb = (COMPOSE.parent / mount.split(":")[0]).resolve()
    scripts = sorted(initdb.glob("*.sh"))
    assert scripts, initdb
    # ready only over TCP: the init scripts run on a socket-only server, and `radar db upgrade` (0006's grants)
    # must not start before the role exists
    assert "-h 127.0.0.1" in postgres["healthcheck"]["test"][1]
    # the script, run as the postgres image runs it, against a psql that records what it was given
    fake_psql = tmp_path / "psql"
    fake_psql.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD.args"\ncat > "$RECORD.sql"\n'
        'printf "%s" "$RADAR_PG_ANALYST_PASSWORD" > "$RECORD.env"\n'
    )
    fake_psql.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "POSTGRES_USER": "radar",
        "POSTGRES_DB": "radar",
        "RECORD": str(tmp_path / "psql"),
        "RADAR_PG_ANALYST_PASSWORD": "an 'analyst' password",
    }
    for script in scripts:
        subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, timeout=30)
    args = (tmp_path / "psql.args").read_text().split("\n")
    sql = (tmp_path / "psql.sql").read_text()
    assert "ON_ERROR_STOP=1" in args and not [a for a in args if "analyst' password" in a], args  # not in argv
    assert (tmp_path / "psql.env").read_text() == env["RADAR_PG_ANALYST_PASSWORD"]
    assert "\\getenv analyst_password RADAR_PG_ANALYST_PASSWORD" in sql
    assert re.search(rf"CREATE ROLE {role} LOGIN PASSWORD :'analyst_password'", sql), sql
    assert "default_transaction_read_only = on" in sql
    (tmp_path / "psql.sql").unlink()
    del env["RADAR_PG_ANALYST_PASSWORD"]
    for script in scripts:  # without the password the first start fails rather than create a role without one
        refused = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0 and "RADAR_PG_ANALYST_PASSWORD" in refused.stderr
    assert not (tmp_path / "psql.sql").exists()

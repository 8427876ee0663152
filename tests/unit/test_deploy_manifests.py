"""The deployment files are valid: Kubernetes manifests against the Kubernetes schemas (kubernetes-validate,
strict), rendered by kustomize; the compose file against the Compose Specification (compose-spec)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
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
    return [
        d for f in kustomization["resources"] for d in yaml.safe_load_all((ROOT / "deploy/k8s" / f).read_text()) if d
    ]


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

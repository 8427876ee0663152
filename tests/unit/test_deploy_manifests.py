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

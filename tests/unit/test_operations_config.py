"""Operations wiring that no service test would catch: the dashboards ask only for metrics the code declares,
Grafana's provisioning uses only variables compose sets (Grafana has no ``${VAR:-default}``), and every process
is scraped where it serves /metrics, on all interfaces, with the probes on the right endpoints."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("core", "services", "stream", "storage", "inference", "localdev")
DECLARED = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
UNITS = ("_seconds", "_messages", "_events", "_deliveries", "_bytes")
UNITLESS = {"radar_triton_waiting", "radar_events_in_flight"}  # a 0/1 state; a count of events
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
}


def declared_metrics() -> dict[str, str]:
    """Every Prometheus metric the runtime code declares, by name, with its type."""
    found: dict[str, str] = {}
    for package in RUNTIME:
        for path in (ROOT / package).rglob("*.py"):
            for kind, name in DECLARED.findall(path.read_text()):
                assert name not in found, f"{name} declared twice"
                found[name] = kind
    return found


def exposed_series(declared: dict[str, str]) -> set[str]:
    """The series names a scrape shows (a counter ``x_total`` is exposed as ``x_total``; histograms add suffixes)."""
    series = set()
    for name, kind in declared.items():
        base = name.removesuffix("_total") if kind == "Counter" else name
        series |= {base + suffix for suffix in SUFFIXES[kind]}
    return series


def test_the_code_declares_what_the_dashboards_expect() -> None:
    declared = declared_metrics()
    expected = {
        "radar_close_delay_seconds",
        "radar_events_in_flight",
        "radar_outbox_pending_deliveries",
        "radar_outbox_oldest_pending_seconds",
        "radar_webhook_request_duration_seconds",
    }
    assert expected <= set(declared), expected - set(declared)
    for name, kind in declared.items():  # names say their unit: counters end in _total, the others in a unit
        assert name.startswith("radar_"), name
        assert (kind == "Counter") == name.endswith("_total"), f"{kind} {name}"
        assert kind == "Counter" or name.endswith(UNITS) or name in UNITLESS, f"{kind} {name} names no unit"


def test_every_metric_on_the_operations_dashboard_is_declared() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/operations.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", []) if "expr" in t]
    used = {name for expr in exprs for name in re.findall(r"\bradar_[a-z0-9_]+", expr)}
    assert len(used) >= 10, used
    unknown = used - exposed_series(declared_metrics())
    assert not unknown, f"the operations dashboard asks for metrics nobody declares: {sorted(unknown)}"


def _grafana_service() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())
    return compose["services"]["grafana"]  # type: ignore[no-any-return]


def test_grafana_provisioning_uses_only_variables_compose_sets() -> None:
    environment = _grafana_service()["environment"]
    files = sorted((ROOT / "deploy/grafana/provisioning").rglob("*.y*ml"))
    assert files
    for path in files:
        text = re.sub(r"(^|\s)#.*$", "", path.read_text(), flags=re.MULTILINE)  # comments may name them
        defaults = re.findall(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-[^}]*\}", text)
        assert not defaults, f"{path.name}: Grafana knows no ${{VAR:-default}}: {defaults}"
        used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
        used |= set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", text))
        missing = used - set(environment)
        assert not missing, f"{path.name} uses {sorted(missing)}, which compose's grafana service does not set"


def test_grafana_mounts_what_it_provisions() -> None:
    volumes = _grafana_service()["volumes"]
    assert any(v.startswith("../grafana/provisioning:") for v in volumes)
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/radar.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert any(v.startswith("../grafana/dashboards:") and v.split(":")[1] == path for v in volumes)


def _deployments() -> dict[str, dict[str, Any]]:
    found = {}
    for path in (ROOT / "deploy/k8s").glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document["kind"] == "Deployment":
                found[document["metadata"]["name"]] = document["spec"]["template"]
    return found


def test_kubernetes_scrapes_every_process_where_it_serves_metrics() -> None:
    defaults = Settings.model_construct()  # the defaults, whatever this shell's RADAR_* say
    config = next(
        d for d in yaml.safe_load_all((ROOT / "deploy/k8s/config.yaml").read_text()) if d["kind"] == "ConfigMap"
    )
    assert config["data"]["RADAR_METRICS_HOST"] == "0.0.0.0"
    ports = {
        "radar-worker": int(config["data"].get("RADAR_WORKER_METRICS_PORT", defaults.worker_metrics_port)),
        "radar-dispatcher": int(config["data"].get("RADAR_DISPATCHER_METRICS_PORT", defaults.dispatcher_metrics_port)),
        "radar-api": defaults.api_port,
    }
    deployments = _deployments()
    for name, port in ports.items():
        pod = deployments[name]
        notes = pod["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/port"] == str(port), name
        assert notes.get("prometheus.io/path", "/metrics") == "/metrics", name
        container_ports = {p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert port in container_ports, name


def test_kubernetes_api_pods_run_one_process_and_probe_readiness_and_liveness() -> None:
    api = _deployments()["radar-api"]["spec"]["containers"][0]
    args = api["args"]
    assert args[:1] == ["api"] and args[args.index("--workers") + 1] == "1"  # scale with replicas
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_compose_serves_metrics_on_all_interfaces_and_prometheus_scrapes_them() -> None:
    compose = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())
    for service in ("worker", "dispatcher", "api"):
        assert compose["services"][service]["environment"]["RADAR_METRICS_HOST"] == "0.0.0.0", service
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: json.dumps(job) for job in prometheus["scrape_configs"]}
    defaults = Settings.model_construct()
    assert f'"port": {defaults.worker_metrics_port}' in jobs["radar-worker"]
    assert f'"port": {defaults.dispatcher_metrics_port}' in jobs["radar-dispatcher"]
    assert f"api:{defaults.api_port}" in jobs["radar-api"]

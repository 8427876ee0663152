"""Prometheus from Debian's ``prometheus``, run in ``var/prometheus`` on loopback, scraping the local processes
(workers, dispatcher, API, Triton) on the ports the settings give, with the pipeline's alert rules
(``deploy/prometheus/rules.yml``). Started by ``radar stack up --prometheus`` (and the test that needs it)."""

from __future__ import annotations

from pathlib import Path

import httpx

from localdev.stack.base import LOOPBACK, LocalService, apt_install, which_or_none

__all__ = ["RULES", "PrometheusService", "scrape_config"]

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"


def scrape_config(targets: dict[str, str], rules: Path = RULES, interval_s: float = 5.0) -> str:
    """A Prometheus configuration scraping each job's ``host:port``, with the pipeline's rules.

    >>> print(scrape_config({"radar-api": "127.0.0.1:8080"}, Path("/r.yml")))
    global:
      scrape_interval: 5s
      evaluation_interval: 5s
    rule_files: ["/r.yml"]
    scrape_configs:
      - job_name: radar-api
        static_configs: [{targets: ["127.0.0.1:8080"]}]
    <BLANKLINE>
    """
    jobs = "".join(
        f'  - job_name: {job}\n    static_configs: [{{targets: ["{target}"]}}]\n' for job, target in targets.items()
    )
    return (
        f"global:\n  scrape_interval: {interval_s:g}s\n  evaluation_interval: {interval_s:g}s\n"
        f'rule_files: ["{rules}"]\nscrape_configs:\n{jobs}'
    )


class PrometheusService(LocalService):
    name = "prometheus"
    start_timeout_s = 60.0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.settings.local_prometheus_port}"

    def targets(self) -> dict[str, str]:
        s = self.settings
        return {
            "radar-worker": f"{LOOPBACK}:{s.worker_metrics_port}",
            "radar-dispatcher": f"{LOOPBACK}:{s.dispatcher_metrics_port}",
            "radar-api": f"{LOOPBACK}:{s.api_port}",
            "triton": f"{LOOPBACK}:{s.triton_metrics_port}",
        }

    def install(self) -> None:
        if which_or_none("prometheus") is None:
            apt_install("prometheus")

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "prometheus.yml").write_text(scrape_config(self.targets()))

    def argv(self) -> list[str]:
        return [
            "prometheus",
            f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.settings.local_prometheus_port}",
        ]

    def probe(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200

    def detail(self) -> str:
        return self.url

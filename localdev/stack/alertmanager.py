"""Prometheus Alertmanager from Debian's ``prometheus-alertmanager``, run in ``var/alertmanager`` on loopback, one
node (no cluster), routes grouped by entity; the dispatcher pushes to it when ``RADAR_ALERTMANAGER_URL`` is set.
Started by ``radar stack up --alertmanager`` (and the tests that need it), not by default."""

from __future__ import annotations

import httpx

from localdev.stack.base import LOOPBACK, LocalService, apt_install, which_or_none

__all__ = ["CONFIG", "AlertmanagerService"]

BINARY = "prometheus-alertmanager"
# one receiver that goes nowhere: analysts read it in Alertmanager's UI and API; an operator adds theirs
CONFIG = """\
route:
  receiver: radar-null
  group_by: [entity]
  group_wait: 5s
  group_interval: 30s
  repeat_interval: 4h
receivers:
  - name: radar-null
"""


class AlertmanagerService(LocalService):
    name = "alertmanager"
    start_timeout_s = 60.0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.settings.local_alertmanager_port}"

    def install(self) -> None:
        if which_or_none(BINARY) is None:
            apt_install(BINARY)

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "alertmanager.yml").write_text(CONFIG)

    def argv(self) -> list[str]:
        return [
            BINARY,
            f"--config.file={self.home / 'alertmanager.yml'}",
            f"--storage.path={self.home / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.settings.local_alertmanager_port}",
            "--cluster.listen-address=",  # one node: no gossip port
            f"--web.external-url={self.url}",
        ]

    def probe(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200

    def detail(self) -> str:
        return self.url

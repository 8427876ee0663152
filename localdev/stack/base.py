"""What every local service shares: install if missing, start once, wait for readiness, stop what we started."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import StackError
from core.settings import Settings
from localdev.stack.process import ManagedProcess, wait_until

__all__ = ["LOOPBACK", "LocalService", "ServiceState", "apt_install"]

# Every listener of the local stack binds here and nowhere else: none of its services has authentication worth
# exposing (Kafka PLAINTEXT, Redis without a password, Triton's control API), and PostgreSQL's is for defence
# in depth, not for a network.
LOOPBACK = "127.0.0.1"
# The servers never read the product's settings; keeping RADAR_* (database URL with its password, API tokens)
# out of their environment keeps those secrets out of /proc/<pid>/environ of processes run as other users.
PRIVATE_ENV_PREFIXES = ("RADAR_",)


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # "started", "running", "external", "stopped"
    detail: str


def apt_install(*packages: str) -> None:
    """Install Debian packages (the stack's Redis and PostgreSQL come from Debian, as on the user's servers)."""
    if os.geteuid() != 0:
        raise StackError("apt", f"{' '.join(packages)} missing and not root: install them with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError("apt", f"{' '.join(argv)} failed", result.stdout[-2000:] + result.stderr[-2000:])


class LocalService(ABC):
    """One service of ``radar stack``; subclasses say how to install, configure, start and probe it."""

    name: str
    start_timeout_s: float = 60.0
    stop_signal: int = signal.SIGTERM

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.var = settings.var_dir.resolve()
        self.home = self.var / self.name

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(name=self.name, run_dir=self.var / "run", log_dir=self.var / "log")

    # --- what subclasses provide ---
    def install(self) -> None:
        """Make the binaries available (Debian package, Maven jars, wheel files)."""
        return None  # optional hook

    def prepare(self) -> None:
        """Write configuration and initialise data directories (idempotent)."""
        return None  # optional hook

    @abstractmethod
    def argv(self) -> list[str]: ...

    @abstractmethod
    def probe(self) -> bool:
        """True when the service answers like a ready one (Kafka metadata, PING, SELECT 1, /v2/health/ready)."""

    def after_ready(self) -> None:
        """One-off set-up that needs the running service (roles, databases)."""
        return None  # optional hook

    def stale(self) -> bool:
        """The running service must restart to pick up what changed since it started (a new model to serve)."""
        return False  # optional hook

    def env(self) -> dict[str, str]:
        return {}

    def run_as(self) -> str | None:
        return None

    def detail(self) -> str:
        return ""

    def start_probe(self) -> bool:
        """What start-up waits for; by default the full probe (PostgreSQL waits for pg_isready first)."""
        return self.probe()

    # --- the shared life cycle ---
    def _quietly(self, probe: Callable[[], bool]) -> bool:
        try:
            return probe()
        except Exception:  # noqa: BLE001 - a failing probe means 'not ready'
            return False

    def up(self) -> ServiceState:
        proc = self.process
        restarted = proc.pid() is not None and self.stale()
        if restarted:
            self.down()
        if proc.pid() is not None:
            proc.wait_ready(self.start_probe, timeout_s=self.start_timeout_s)
            state = "running"
        elif self._quietly(self.probe):
            return ServiceState(self.name, "external", f"{self.detail()} (not started by radar; left alone)")
        else:
            self.install()
            self.prepare()
            proc.start(self.argv(), extra_env=self.env(), user=self.run_as(), drop_env=PRIVATE_ENV_PREFIXES)
            proc.wait_ready(self.start_probe, timeout_s=self.start_timeout_s)
            self.after_ready()
            state = "restarted" if restarted else "started"
        if not wait_until(lambda: self._quietly(self.probe), timeout_s=self.start_timeout_s):
            raise StackError(self.name, "the process runs but does not answer like a ready service")
        return ServiceState(self.name, state, self.detail())

    def down(self) -> ServiceState:
        stopped = self.process.stop(stop_signal=self.stop_signal)
        return ServiceState(self.name, "stopped" if stopped else "not running", "")

    def status(self) -> ServiceState:
        ours = self.process.pid() is not None
        ready = self._quietly(self.probe)
        labels = {(True, True): "running", (True, False): "starting/unhealthy", (False, True): "external"}
        return ServiceState(self.name, labels.get((ours, ready), "down"), self.detail())


def which_or_none(binary: str) -> Path | None:
    found = shutil.which(binary)
    return Path(found) if found else None

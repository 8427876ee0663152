"""``radar stack``: the local Kafka, Redis, PostgreSQL and Triton, real processes under ``var/``; Alertmanager and
Prometheus when asked for (``--alertmanager``, ``--prometheus``, or ``--only``)."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from core.settings import Settings
from localdev.stack.alertmanager import AlertmanagerService
from localdev.stack.base import LocalService, ServiceState
from localdev.stack.kafka import KafkaService
from localdev.stack.postgres import PostgresService
from localdev.stack.prometheus import PrometheusService
from localdev.stack.redis_server import RedisService
from localdev.stack.triton import TritonService

__all__ = ["DEFAULT", "SERVICES", "Stack"]

SERVICES: dict[str, type[LocalService]] = {
    "kafka": KafkaService,
    "redis": RedisService,
    "postgres": PostgresService,
    "triton": TritonService,
    "alertmanager": AlertmanagerService,
    "prometheus": PrometheusService,
}
DEFAULT = ["kafka", "redis", "postgres", "triton"]  # what `radar stack up` starts unless told otherwise


class Stack:
    """The services of the local stack, brought up in dependency-free order and stopped in reverse."""

    def __init__(self, settings: Settings, only: list[str] | None = None, *, extra: Sequence[str] = ()) -> None:
        names = only or [*DEFAULT, *(e for e in extra if e not in DEFAULT)]
        self.settings = settings
        self.explicit = only is not None
        self.services = [SERVICES[name](settings) for name in names]

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One ``up`` or ``down`` at a time per var/ (``make test`` while ``make demo`` is starting the stack would
        otherwise start a second Kafka on the same ports)."""
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        with (self.settings.var_dir / "stack.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def up(self, on_state: Callable[[ServiceState], None] | None = None) -> list[ServiceState]:
        from stream.topics import ensure_topics

        states = []
        with self._exclusive():
            for service in self.services:
                state = service.up()
                if isinstance(service, KafkaService):
                    ensure_topics(self.settings)
                states.append(state)
                if on_state:
                    on_state(state)
        return states

    def down(self) -> list[ServiceState]:
        """Stop the services (every one ``up`` can start, optional ones included, unless some were named)."""
        services = self.services if self.explicit else [cls(self.settings) for cls in SERVICES.values()]
        with self._exclusive():
            return [service.down() for service in reversed(services)]

    def status(self) -> list[ServiceState]:
        return [service.status() for service in self.services]

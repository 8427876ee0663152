"""Redis from Debian's ``redis-server``, run in ``var/redis`` with append-only persistence, on loopback only."""

from __future__ import annotations

import redis

from localdev.stack.base import LOOPBACK, LocalService, apt_install, which_or_none

__all__ = ["RedisService"]


class RedisService(LocalService):
    name = "redis"
    start_timeout_s = 30.0

    def install(self) -> None:
        if which_or_none("redis-server") is None:
            apt_install("redis-server")

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [
            "redis-server",
            "--bind",
            LOOPBACK,
            "--protected-mode",
            "yes",  # without a password, answer loopback clients only, whatever the bind
            "--port",
            str(self.settings.redis_port),
            "--dir",
            str(self.home),
            "--daemonize",
            "no",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",  # acknowledged means on disk: a kill -9 or power cut loses no count (docs/architecture.md)
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",  # every key has a TTL: an evicting policy would miscount (storage/redis_policy.py)
        ]

    def probe(self) -> bool:
        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def detail(self) -> str:
        return self.settings.redis_url

"""The Redis key schema: every key under ``<prefix>`` (default ``radar:``), every key with a TTL.

| key                                   | type   | holds                                              | TTL         |
|---------------------------------------|--------|----------------------------------------------------|-------------|
| ``seen:{len(source)}:{source}:{id}``  | string | the event was counted (dedupe)                     | dedupe_ttl  |
| ``m:{entity}:{kind}:{minute}``        | hash   | n, negative, neutral, positive, total, total_sq    | 2 days      |
| ``h:{entity}:{kind}:{hour}``          | hash   | the same per hour (fast 1 h / 24 h windows)        | 8 days      |
| ``ev:{entity}:{minute}``              | list   | up to 20 recent events (id, snippet, score)        | 2 days      |
| ``v:{entity}:{minute}``               | HLL    | the minute's distinct voices (author, else source) | 2 hours     |
| ``entities``                          | zset   | entity -> last minute with events                  | 8 days      |
| ``watermark``                         | string | largest event time seen (epoch seconds)            | 8 days      |
| ``first_minute``                      | string | the first minute with events                       | 8 days      |
| ``closed_through``                    | string | last minute whose buckets are closed and detected  | 8 days      |
| ``det:{entity}``                      | string | detector state (JSON), so a restart resumes        | 8 days      |
| ``lock:close``                        | string | one closer at a time across workers                | 30 s, renewed |
| ``quota:{len(source)}:{source}:{day}``| set    | entities off the watchlist a source named that day | 2 days      |

``minute`` and ``hour`` are integer epoch minutes and hours (UTC); ``kind`` is news or social. The pseudo-entity
``_all`` counts every event (dashboards); detection skips it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.events import dedupe_key

__all__ = ["ALL_ENTITIES", "Keys"]

ALL_ENTITIES = "_all"


@dataclass(frozen=True)
class Keys:
    prefix: str = "radar:"

    def seen(self, source: str | None, event_id: str) -> str:
        """Dedupe by (source, id): :func:`core.events.dedupe_key`."""
        return f"{self.prefix}seen:{dedupe_key(source, event_id)}"

    def minute(self, entity: str, kind: str, minute: int) -> str:
        return f"{self.prefix}m:{entity}:{kind}:{minute}"

    def hour(self, entity: str, kind: str, hour: int) -> str:
        return f"{self.prefix}h:{entity}:{kind}:{hour}"

    def evidence(self, entity: str, minute: int) -> str:
        return f"{self.prefix}ev:{entity}:{minute}"

    def voices(self, entity: str, minute: int) -> str:
        return f"{self.prefix}v:{entity}:{minute}"

    def detectors(self, entity: str) -> str:
        return f"{self.prefix}det:{entity}"

    @property
    def entities(self) -> str:
        return f"{self.prefix}entities"

    @property
    def watermark(self) -> str:
        return f"{self.prefix}watermark"

    @property
    def first_minute(self) -> str:
        return f"{self.prefix}first_minute"

    @property
    def closed_through(self) -> str:
        return f"{self.prefix}closed_through"

    @property
    def close_lock(self) -> str:
        return f"{self.prefix}lock:close"

    def quota(self, source: str | None, day: int) -> str:
        """The entities off the watchlist ``source`` introduced on epoch ``day`` (UTC): its quota's count."""
        source = source or ""
        return f"{self.prefix}quota:{len(source)}:{source}:{day}"

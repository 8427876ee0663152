"""The workers' live watchlist: read from SQL every ``watchlist_refresh_s``; the entity matcher is rebuilt off the
event loop when what tagging depends on changed, and swapped in with one assignment.

- A change (``radar entities``, ``/v1/watchlist``) reaches every worker within one refresh interval, no restart.
- The matcher is rebuilt only when names, aliases or cashtags changed (a content fingerprint, not a clock); a
  ``min_severity`` change only replaces the per-entity thresholds the aggregate agent filters alerts with.
- SQL unreachable (or its schema behind): the last watchlist stays in use and scoring goes on; one warning per
  problem, one line when it is back. At start, with nothing loaded yet, the TOML file is used instead until SQL
  answers (and the log says so).
- The first reader of the watchlist in SQL seeds it from the TOML file, once (:func:`storage.watchlist.ensure_seeded`).

Where the entities come from is a :class:`WatchlistSource` (a blocking ``read()``, run in a thread), so the refresh
logic is unit-tested with a fake one and the score stage only ever sees ``tag``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.domain import Severity
from core.errors import ConfigError
from core.settings import Settings
from core.watchlist import Entity, fingerprint, read_watchlist
from storage.db import make_engine, make_sessionmaker, require_current_schema
from storage.watchlist import ensure_seeded, list_entities
from stream.entities import EntityMatcher

__all__ = [
    "FIRST_READ_TIMEOUT_S",
    "FileWatchlist",
    "LiveWatchlist",
    "SqlWatchlist",
    "WatchlistSource",
    "register_watchlist",
    "seed_entities",
    "seed_watchlist",
    "sql_watchlist",
]

log = logging.getLogger("radar.watchlist")
FIRST_READ_TIMEOUT_S = 10.0  # at start, how long scoring waits for SQL before it tags with the TOML file
ToThread = Callable[..., Awaitable[Any]]
_seed_problems: set[str] = set()  # seed-file problems already logged by this process
_NOTHING = EntityMatcher([])  # tags nothing: before anything is loaded


class WatchlistSource(Protocol):
    """Where the entities come from. ``read`` blocks (it is run in a thread) and raises when it cannot read."""

    @property
    def name(self) -> str: ...
    def read(self) -> list[Entity]: ...


def seed_entities(path: Path) -> list[Entity] | None:
    """The seed file's entities; None (logged once per problem) when it is missing or invalid, so seeding waits."""
    try:
        return read_watchlist(path)
    except ConfigError as exc:
        if str(exc) not in _seed_problems:
            _seed_problems.add(str(exc))
            log.warning("not seeding the watchlist: %s", exc)
        return None


def seed_watchlist(session: Session, seed_path: Path) -> bool:
    """Seed the watchlist in SQL from ``seed_path`` unless that was done before; what every reader calls first."""
    return ensure_seeded(session, lambda: seed_entities(seed_path), source=str(seed_path))


class FileWatchlist:
    """A watchlist TOML file (the start-up fallback)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return f"the file {self.path}"

    def read(self) -> list[Entity]:
        return read_watchlist(self.path)


class SqlWatchlist:
    """The watchlist in SQL; the schema is checked until it is current once, the seed runs on every read until done."""

    def __init__(self, engine: Engine, seed_path: Path) -> None:
        self.engine, self.seed_path = engine, seed_path
        self.sessions = make_sessionmaker(engine)
        self._schema_ready = False

    @property
    def name(self) -> str:
        return f"SQL ({self.engine.url.render_as_string(hide_password=True)})"

    def read(self) -> list[Entity]:
        if not self._schema_ready:
            require_current_schema(self.engine)
            self._schema_ready = True
        with self.sessions.begin() as session:
            seed_watchlist(session, self.seed_path)
            return list_entities(session)


@dataclass(frozen=True)
class _Compiled:
    matcher: EntityMatcher
    thresholds: Mapping[str, Severity]  # entities whose min_severity is above info
    matching: str  # fingerprint of what tagging depends on
    entities: int
    origin: str
    ids: frozenset[str] = frozenset()  # every entity on the list (the entity quota never applies to them)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class LiveWatchlist:
    """``tag(text)`` and ``thresholds`` from the newest watchlist read; :meth:`refresh` reads it again.

    Call :meth:`ready` before the first use (it waits for the first read, at most ``first_read_timeout_s``, then
    falls back to ``fallback``) and :meth:`refresh` every refresh interval.
    """

    source: WatchlistSource
    fallback: WatchlistSource | None = None
    first_read_timeout_s: float = FIRST_READ_TIMEOUT_S
    to_thread: ToThread = asyncio.to_thread
    _current: _Compiled | None = field(default=None, init=False)
    _tried: bool = field(default=False, init=False)
    _problem: str | None = field(default=None, init=False)
    _fallback_problem: str | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def tag(self, text: str) -> list[str]:
        current = self._current
        return (current.matcher if current is not None else _NOTHING).tag(text)

    def mentions(self, text: str) -> dict[str, str]:
        """Entities with their first mention as written (see :meth:`stream.entities.EntityMatcher.mentions`)."""
        current = self._current
        return (current.matcher if current is not None else _NOTHING).mentions(text)

    @property
    def thresholds(self) -> Mapping[str, Severity]:
        """``min_severity`` of the entities that have one above info."""
        return self._current.thresholds if self._current is not None else {}

    @property
    def watched(self) -> frozenset[str]:
        """The ids of every entity on the watchlist in use."""
        return self._current.ids if self._current is not None else frozenset()

    @property
    def origin(self) -> str | None:
        """Where the watchlist in use came from (None: nothing loaded)."""
        return self._current.origin if self._current is not None else None

    async def ready(self) -> None:
        """The first read (once, however many callers): SQL, or the fallback when SQL does not answer in time."""
        async with self._lock:
            if not self._tried:
                await self._refresh()

    async def refresh(self) -> bool:
        """Read the source again; True when the watchlist in use changed. Never raises for an unreadable source."""
        async with self._lock:
            return await self._refresh()

    async def _refresh(self) -> bool:
        first, self._tried = not self._tried or self._current is None, True
        try:
            reading = self.to_thread(self.source.read)
            entities = await (asyncio.wait_for(reading, self.first_read_timeout_s) if first else reading)
        except Exception as exc:  # noqa: BLE001 - whatever stops the read, the workers keep the watchlist they have
            self._report(exc)
            return await self._fall_back() if first else False
        if self._problem is not None:
            log.warning("the watchlist is read from %s again", self.source.name)
            self._problem = None
        return await self._install(entities, self.source.name)

    def _report(self, exc: BaseException) -> None:
        problem = _describe(exc) if not isinstance(exc, TimeoutError) else "no answer in time"
        if problem == self._problem:
            return
        self._problem = problem
        keeping = f"keeping the one from {self._current.origin}" if self._current else "nothing loaded yet"
        log.warning("cannot read the watchlist from %s (%s): %s", self.source.name, keeping, problem)

    async def _fall_back(self) -> bool:
        if self.fallback is None or self._current is not None:
            return False
        try:
            entities = await self.to_thread(self.fallback.read)
        except Exception as exc:  # noqa: BLE001 - tagging nothing beats not scoring
            if _describe(exc) != self._fallback_problem:
                self._fallback_problem = _describe(exc)
                log.error("nor from %s (%s): tagging nothing until one can be read", self.fallback.name, exc)
            return False
        log.warning("tagging with the watchlist from %s until %s answers", self.fallback.name, self.source.name)
        return await self._install(entities, self.fallback.name)

    async def _install(self, entities: list[Entity], origin: str) -> bool:
        current = self._current
        compiled = await self.to_thread(_compile, entities, origin, current)  # fingerprint and automaton: off-loop
        changed = current is None or current.matching != compiled.matching or current.thresholds != compiled.thresholds
        self._current = compiled  # one assignment: the swap
        if changed:
            with_floor = len(compiled.thresholds)
            log.info("watchlist from %s: %d entities, %d with a min_severity", origin, compiled.entities, with_floor)
        return changed


def _compile(entities: list[Entity], origin: str, current: _Compiled | None) -> _Compiled:
    """The watchlist ready to use; the automaton is reused when what tagging depends on did not change."""
    matching = fingerprint(entities, matching_only=True)
    thresholds = {e.id: Severity(e.min_severity) for e in entities if Severity(e.min_severity) > Severity.INFO}
    same = current is not None and current.matching == matching
    matcher = current.matcher if current is not None and same else EntityMatcher(entities)
    return _Compiled(matcher, thresholds, matching, len(entities), origin, frozenset(e.id for e in entities))


def sql_watchlist(settings: Settings) -> LiveWatchlist:
    """The workers' watchlist: SQL at ``RADAR_DATABASE_URL`` (connecting on first read), the TOML file as the seed
    and the start-up fallback."""
    engine = make_engine(settings.database_url)
    return LiveWatchlist(SqlWatchlist(engine, settings.watchlist), fallback=FileWatchlist(settings.watchlist))


def register_watchlist(app: Any, settings: Settings) -> LiveWatchlist:
    """One live watchlist for the worker's agents, refreshed by a timer every ``watchlist_refresh_s``."""
    watchlist = sql_watchlist(settings)

    @app.timer(interval=settings.watchlist_refresh_s, name="watchlist_refresh")
    async def refresh_watchlist() -> None:
        await watchlist.refresh()

    return watchlist

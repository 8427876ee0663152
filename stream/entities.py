"""Entity tagging: a watchlist compiled into an Aho-Corasick automaton, one pass over each text.

The entity itself and the watchlist file format are the domain's (:mod:`core.watchlist`); the workers rebuild the
matcher when the watchlist in SQL changes (:mod:`stream.watchlist`), and :func:`load_watchlist` reads a TOML file
for offline tools (scenarios, benchmarks) and for the first seed.

Matching rules: names and aliases case-insensitively on word boundaries ("Acme's" and "(Acme)" match,
"Acmeville" does not); cashtags as ``$TAG`` in any case; where matches overlap the longest wins ("Bank of
America" is not also "America"); an entity is reported once, in order of first mention.

Cost: tagging runs synchronously in the score agent, so one hostile text must not stall the event loop. The
scan is linear in the text (the automaton, in C), the overlap resolution is linear in the matches (length
buckets and an occupancy map instead of comparing every match with every kept one: 20,000 characters of
"Acme Acme ..." cost 8 million comparisons before), and both are capped: the scan stops after ``max_matches``
automaton hits and at most ``max_entities`` entities are reported (the bound ``RawEvent.entities`` has), so a
text's Python-level work is at most ``max_matches * (1 + 2 * longest pattern)`` steps whatever it holds.
A capped text is tagged from its beginning up to where the scan stopped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

from core.watchlist import Entity, read_watchlist
from stream.events import MAX_ENTITIES as EVENT_MAX_ENTITIES

__all__ = ["MAX_ENTITIES", "MAX_MATCHES", "Entity", "EntityMatcher", "Tagging", "load_watchlist"]

MAX_MATCHES = 1_000  # automaton hits read per text: hundreds of times what a real article holds
MAX_ENTITIES = EVENT_MAX_ENTITIES  # entities reported per text: the bound an event's own `entities` list has


def load_watchlist(path: Path) -> list[Entity]:
    """The entities of a watchlist TOML file (``deploy/watchlist.toml``'s format); ConfigError when it is not one."""
    return read_watchlist(path)


def _fold(text: str) -> str:
    """Case-fold without changing length, so match offsets stay valid in the original text."""
    folded = text.lower()
    return folded if len(folded) == len(text) else "".join(c.lower()[:1] or c for c in text)


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_" or unicodedata.category(c) == "Mn"


@dataclass(frozen=True)
class Tagging:
    """The entities of one text and what finding them cost, counted in steps, so tests and benchmarks can
    bound the work on hostile texts without timing anything."""

    entities: list[str]
    matches: int  # automaton hits read (the scan stops at ``max_matches``)
    work: int  # hits read + characters checked or marked while resolving overlaps
    truncated: bool  # a cap was reached: only the text up to there, or the first entities, are reported


@dataclass
class EntityMatcher:
    """``tag(text) -> [entity ids]``.

    >>> m = EntityMatcher([Entity("BOA", names=("Bank of America",)), Entity("AMER", names=("America",)),
    ...                    Entity("ACME", names=("Acme",), cashtags=("ACME",))])
    >>> m.tag("Bank of America's results beat; $acme fell, (ACME) too, not Acmeville")
    ['BOA', 'ACME']
    >>> t = m.tag_counted("Acme " * 4000)  # 20,000 characters of one name
    >>> t.entities, t.matches, t.truncated
    (['ACME'], 1000, True)
    """

    entities: Iterable[Entity]
    max_matches: int = MAX_MATCHES
    max_entities: int = MAX_ENTITIES
    _automaton: ahocorasick.Automaton = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_matches < 1 or self.max_entities < 1:
            raise ValueError("max_matches and max_entities must be at least 1")
        self.entities = list(self.entities)
        automaton = ahocorasick.Automaton()
        for entity in self.entities:
            patterns = {_fold(p.strip()) for p in (*entity.names, *entity.aliases) if p.strip()}
            patterns |= {"$" + _fold(tag.strip().lstrip("$")) for tag in entity.cashtags if tag.strip()}
            for pattern in patterns:
                existing = automaton.get(pattern, None)
                ids = (existing[1] if existing else ()) + (entity.id,)
                automaton.add_word(pattern, (pattern, ids))
        if len(automaton) == 0:
            automaton.add_word("\x00", ("\x00", ()))
        automaton.make_automaton()
        self._automaton = automaton

    def tag(self, text: str) -> list[str]:
        return self.tag_counted(text).entities

    def tag_counted(self, text: str) -> Tagging:
        """Tag ``text`` and count the work (see the module's docstring for the bounds)."""
        folded = _fold(text)
        candidates, matches, truncated = self._candidates(folded)
        taken, work = _longest_first(candidates, len(folded))
        found: dict[str, None] = {}  # insertion-ordered set: order of first mention
        for (_, _, ids), kept in zip(candidates, taken, strict=True):
            for entity_id in ids if kept else ():
                if entity_id in found:
                    continue
                if len(found) == self.max_entities:
                    return Tagging(list(found), matches, matches + work, truncated=True)
                found[entity_id] = None
        return Tagging(list(found), matches, matches + work, truncated)

    def _candidates(self, folded: str) -> tuple[list[_Match], int, bool]:
        """Automaton hits on word boundaries, in order of their end; stops reading after ``max_matches`` hits."""
        candidates: list[_Match] = []
        matches = 0
        for end, (pattern, ids) in self._automaton.iter(folded):
            if matches == self.max_matches:
                return candidates, matches, True
            matches += 1
            start = end - len(pattern) + 1
            before = folded[start - 1] if start > 0 else " "
            after = folded[end + 1] if end + 1 < len(folded) else " "
            if _is_word_char(after) or (not pattern.startswith("$") and _is_word_char(before)):
                continue
            if pattern.startswith("$") and (before == "$" or _is_word_char(before)):
                continue
            candidates.append((start, end, ids))
        return candidates, matches, False


_Match = tuple[int, int, tuple[str, ...]]  # start, end (inclusive), entity ids


def _longest_first(candidates: list[_Match], text_length: int) -> tuple[bytearray, int]:
    """Which candidates survive "longest first, then leftmost": each is kept unless it overlaps one kept before.

    Candidates arrive ordered by end, so within one length they are ordered by start: bucketing by length gives
    the (-length, start) order without sorting, and an occupancy map of the text answers "does it overlap a
    kept one" in the candidate's own length. Returns a kept flag per candidate and the characters visited.

    >>> flags, work = _longest_first([(0, 6, ("A",)), (0, 14, ("B",)), (8, 14, ("C",))], 15)
    >>> list(flags), work
    ([0, 1, 0], 44)
    """
    by_length: dict[int, list[int]] = {}
    for index, (start, end, _) in enumerate(candidates):
        by_length.setdefault(end - start + 1, []).append(index)
    occupied = bytearray(text_length)
    kept = bytearray(len(candidates))
    work = 0
    for length in sorted(by_length, reverse=True):
        mark = b"\x01" * length
        for index in by_length[length]:
            start, end, _ = candidates[index]
            work += length
            if occupied.find(1, start, end + 1) < 0:
                occupied[start : end + 1] = mark
                kept[index] = 1
                work += length
    return kept, work

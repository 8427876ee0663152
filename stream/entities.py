"""Entity tagging: a watchlist compiled once into an Aho-Corasick automaton, one pass over each text.

Matching rules: names and aliases case-insensitively on word boundaries ("Acme's" and "(Acme)" match,
"Acmeville" does not); cashtags as ``$TAG`` in any case; where matches overlap the longest wins ("Bank of
America" is not also "America"); an entity is reported once, in order of first mention.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

__all__ = ["Entity", "EntityMatcher", "load_watchlist"]


@dataclass(frozen=True)
class Entity:
    id: str
    names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    cashtags: tuple[str, ...] = ()


def load_watchlist(path: Path) -> list[Entity]:
    data = tomllib.loads(Path(path).read_text())
    return [
        Entity(
            id=str(item["id"]),
            names=tuple(item.get("names", ())),
            aliases=tuple(item.get("aliases", ())),
            cashtags=tuple(item.get("cashtags", ())),
        )
        for item in data.get("entity", [])
    ]


def _fold(text: str) -> str:
    """Case-fold without changing length, so match offsets stay valid in the original text."""
    folded = text.lower()
    return folded if len(folded) == len(text) else "".join(c.lower()[:1] or c for c in text)


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_" or unicodedata.category(c) == "Mn"


@dataclass
class EntityMatcher:
    """``tag(text) -> [entity ids]``.

    >>> m = EntityMatcher([Entity("BOA", names=("Bank of America",)), Entity("AMER", names=("America",)),
    ...                    Entity("ACME", names=("Acme",), cashtags=("ACME",))])
    >>> m.tag("Bank of America's results beat; $acme fell, (ACME) too, not Acmeville")
    ['BOA', 'ACME']
    """

    entities: Iterable[Entity]
    _automaton: ahocorasick.Automaton = field(init=False, repr=False)

    def __post_init__(self) -> None:
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
        folded = _fold(text)
        candidates: list[tuple[int, int, tuple[str, ...]]] = []
        for end, (pattern, ids) in self._automaton.iter(folded):
            start = end - len(pattern) + 1
            before = folded[start - 1] if start > 0 else " "
            after = folded[end + 1] if end + 1 < len(folded) else " "
            if _is_word_char(after) or (not pattern.startswith("$") and _is_word_char(before)):
                continue
            if pattern.startswith("$") and (before == "$" or _is_word_char(before)):
                continue
            candidates.append((start, end, ids))
        candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0]))  # longest first
        taken: list[tuple[int, int, tuple[str, ...]]] = []
        for start, end, ids in candidates:
            if all(end < s or start > e for s, e, _ in taken):
                taken.append((start, end, ids))
        seen: list[str] = []
        for _, _, ids in sorted(taken):
            for entity_id in ids:
                if entity_id not in seen:
                    seen.append(entity_id)
        return seen

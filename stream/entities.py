"""Entity tagging: a watchlist compiled into an Aho-Corasick automaton, one pass over each text.

The entity itself and the watchlist file format are the domain's (:mod:`core.watchlist`); the workers rebuild the
matcher when the watchlist in SQL changes (:mod:`stream.watchlist`), and :func:`load_watchlist` reads a TOML file
for offline tools (scenarios, benchmarks) and for the first seed.

Matching rules: names and aliases case-insensitively on word boundaries ("Acme's" and "(Acme)" match,
"Acmeville" does not), where CJK ideographs are no word characters, so Chinese names match without boundaries;
full-width letters, digits and punctuation fold to half-width (``ＡＣＭＥ`` is ``ACME``); cashtags as ``$TAG`` in
any case, and A-share and Hong Kong codes in the forms people write them (``600519``, ``600519.SH``,
``SZ000001``, ``00700.HK``: :func:`code_patterns`); where matches overlap the longest wins ("Bank of America" is
not also "America", ``贵州茅台`` is not also ``茅台``); an entity is reported once, in order of first mention.

Cost: tagging runs synchronously in the score agent, so one hostile text must not stall the event loop. The
scan is linear in the text (the automaton, in C), the overlap resolution is linear in the matches (length
buckets and an occupancy map instead of comparing every match with every kept one: 20,000 characters of
"Acme Acme ..." cost 8 million comparisons before), and both are capped: the scan stops after ``max_matches``
automaton hits and at most ``max_entities`` entities are reported (the bound ``RawEvent.entities`` has), so a
text's Python-level work is at most ``max_matches * (1 + 2 * longest pattern)`` steps whatever it holds.
A capped text is tagged from its beginning up to where the scan stopped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

from core.language import is_cjk
from core.watchlist import Entity, read_watchlist
from stream.events import MAX_ENTITIES as EVENT_MAX_ENTITIES

__all__ = ["MAX_ENTITIES", "MAX_MATCHES", "Entity", "EntityMatcher", "Tagging", "code_patterns", "load_watchlist"]

MAX_MATCHES = 1_000  # automaton hits read per text: hundreds of times what a real article holds
MAX_ENTITIES = EVENT_MAX_ENTITIES  # entities reported per text: the bound an event's own `entities` list has


def load_watchlist(path: Path) -> list[Entity]:
    """The entities of a watchlist TOML file (``deploy/watchlist.toml``'s format); ConfigError when it is not one."""
    return read_watchlist(path)


# full-width ASCII (U+FF01-FF5E) and the ideographic space fold to their half-width forms, one character for one
_WIDTH = {**{0xFF01 + i: 0x21 + i for i in range(0x5E)}, 0x3000: 0x20}


def _fold(text: str) -> str:
    """Case- and width-fold without changing length, so match offsets stay valid in the original text.

    >>> _fold("ＡＣＭＥ（６００５１９．ＳＨ）")
    'acme(600519.sh)'
    """
    folded = text.translate(_WIDTH).lower()
    return folded if len(folded) == len(text) else "".join(c.lower()[:1] or c for c in text.translate(_WIDTH))


def _is_word_char(c: str) -> bool:
    """Letters, digits, ``_`` and combining marks make words; a CJK ideograph does not: Chinese is written without
    spaces, so ``平安银行`` matches inside ``中国平安银行股份`` and ``Acme`` between two ideographs."""
    return (c.isalnum() and not is_cjk(c)) or c == "_" or unicodedata.category(c) == "Mn"


_A_SHARE = re.compile(r"^(?:(sh|sz|bj)\.?)?(\d{6})(?:\.(sh|sz|bj|ss))?$")
_HK = re.compile(r"^(?:hk\.?)?(\d{1,5})\.hk$|^hk\.?(\d{1,5})$")


def code_patterns(tag: str) -> set[str]:
    """The ways a market code is written, folded: an A-share code bare, with its exchange before or after
    (``600519``, ``600519.sh``, ``sh600519``), a Hong Kong code with ``.hk`` (``00700.hk``, ``0700.hk``,
    ``700.hk``, ``hk00700``); any other cashtag as ``$tag``.

    >>> sorted(code_patterns("600519.SH"))
    ['$600519', '$600519.sh', '600519', '600519.sh', '600519.ss', 'sh600519']
    >>> sorted(code_patterns("00700.HK"))
    ['$00700.hk', '00700.hk', '0700.hk', '700.hk', 'hk00700']
    >>> code_patterns("ACME")
    {'$acme'}
    """
    folded = _fold(tag.strip().lstrip("$"))
    a_share, hk = _A_SHARE.match(folded), _HK.match(folded)
    if a_share:
        digits = a_share.group(2)
        exchange = a_share.group(1) or {"ss": "sh"}.get(a_share.group(3) or "", a_share.group(3) or "")
        exchange = exchange or ("sh" if digits[0] in "69" else "bj" if digits[0] in "48" else "sz")
        forms = {digits, f"{digits}.{exchange}", f"{exchange}{digits}"} | (
            {f"{digits}.ss"} if exchange == "sh" else set()
        )
        return forms | {"$" + digits, "$" + f"{digits}.{exchange}"}
    if hk:
        digits = (hk.group(1) or hk.group(2)).lstrip("0") or "0"
        forms = {f"{digits.zfill(n)}.hk" for n in range(len(digits), 6)} | {f"hk{digits.zfill(5)}"}
        return forms | {f"${digits.zfill(5)}.hk"}
    return {"$" + folded}


@dataclass(frozen=True)
class Tagging:
    """The entities of one text and what finding them cost, counted in steps, so tests and benchmarks can
    bound the work on hostile texts without timing anything."""

    entities: list[str]
    matches: int  # automaton hits read (the scan stops at ``max_matches``)
    work: int  # hits read + characters checked or marked while resolving overlaps
    truncated: bool  # a cap was reached: only the text up to there, or the first entities, are reported
    mentions: dict[str, str] = field(default_factory=dict)  # entity -> its first mention, as the text writes it


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
    >>> m.mentions("ＡＣＭＥ sues Bank of America")  # the mention as written: the model finds it in the text
    {'ACME': 'ＡＣＭＥ', 'BOA': 'Bank of America'}
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
            patterns |= {p for tag in entity.cashtags if tag.strip() for p in code_patterns(tag)}
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

    def mentions(self, text: str) -> dict[str, str]:
        """Each entity with its first mention's surface form, in order of first mention: what a pair model reads
        as the target (it crops the text around it)."""
        return self.tag_counted(text).mentions

    def tag_counted(self, text: str) -> Tagging:
        """Tag ``text`` and count the work (see the module's docstring for the bounds)."""
        folded = _fold(text)
        candidates, matches, truncated = self._candidates(folded)
        taken, work = _longest_first(candidates, len(folded))
        found: dict[str, str] = {}  # entity -> first mention, in order of first mention (_fold keeps offsets)
        for (start, end, ids), kept in zip(candidates, taken, strict=True):
            for entity_id in ids if kept else ():
                if entity_id in found:
                    continue
                if len(found) == self.max_entities:
                    return Tagging(list(found), matches, matches + work, truncated=True, mentions=found)
                found[entity_id] = text[start : end + 1]
        return Tagging(list(found), matches, matches + work, truncated, mentions=found)

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

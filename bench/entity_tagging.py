"""Entity tagging on hostile texts: the former quadratic overlap resolution against the linear, capped one.

``uv run python -m bench.entity_tagging`` tags 20,000 characters (the longest text an event may carry) of
repeated watchlist names with both and prints time, automaton hits and work (comparisons before, characters
visited now), and the time of the linear resolution without the cap on hits. :func:`quadratic_tag` is the
tagger as it was (uncapped, plus a comparison counter) and is the reference the unit tests check the new one
against on generated texts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import print_table
from stream.entities import EntityMatcher, _fold, load_watchlist

WATCHLIST = Path(__file__).resolve().parents[1] / "deploy" / "watchlist.toml"
HOSTILE = {
    "one name": "Acme ",
    "a long name, case mixed": "ACME corporation ",
    "nested names": "Bank of America Movil ",
    "cashtags": "$ACME $acme ",
    "two names": "Globex Initech, ",
}


def quadratic_tag(matcher: EntityMatcher, text: str) -> tuple[list[str], int, int]:
    """The former ``EntityMatcher.tag``: every kept match is compared with every candidate (longest first).

    Returns the entities, the automaton hits and the overlap comparisons made.
    """
    unbounded = EntityMatcher(matcher.entities, max_matches=10**9)  # the former tagger read every hit
    candidates, hits, _ = unbounded._candidates(_fold(text))  # the same word-boundary rule as today
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0]))  # longest first
    taken: list[tuple[int, int, tuple[str, ...]]] = []
    comparisons = 0
    for start, end, ids in candidates:  # was ``if all(end < s or start > e for s, e, _ in taken)``
        for s, e, _ in taken:
            comparisons += 1
            if not (end < s or start > e):
                break
        else:
            taken.append((start, end, ids))
    seen: list[str] = []
    for _, _, ids in sorted(taken):
        for entity_id in ids:
            if entity_id not in seen:
                seen.append(entity_id)
    return seen, hits, comparisons


def _best_of(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    matcher = EntityMatcher(load_watchlist(WATCHLIST))
    uncapped = EntityMatcher(matcher.entities, max_matches=10**9)  # the linear resolution alone
    rows = []
    for label, unit in HOSTILE.items():
        text = (unit * (args.chars // len(unit) + 1))[: args.chars]
        old_entities, old_hits, comparisons = quadratic_tag(matcher, text)
        new = matcher.tag_counted(text)
        old_s = _best_of(partial(quadratic_tag, matcher, text), args.rounds)
        new_s = _best_of(partial(matcher.tag_counted, text), args.rounds)
        uncapped_s = _best_of(partial(uncapped.tag_counted, text), args.rounds)
        rows.append(
            [
                label,
                f"{old_hits:,}",
                f"{comparisons:,}",
                f"{old_s * 1000:,.1f}",
                f"{new.matches:,}",
                f"{new.work:,}",
                f"{new_s * 1000:,.2f}",
                f"{uncapped_s * 1000:,.2f}",
                "same" if new.entities == old_entities else f"{old_entities} -> {new.entities}",
            ]
        )
    columns = [
        "text",
        "hits before",
        "comparisons before",
        "ms before",
        "hits now",
        "work now",
        "ms now",
        "ms now, no cap",
        "entities",
    ]
    print_table(f"Entity tagging, {args.chars:,} hostile characters", columns, rows)


if __name__ == "__main__":
    main()

"""Alert explanations: do they say what happened, and what do they cost? In one run, side by side.

    uv run python -m bench.explain [--json PATH]

On the demo's two incidents (ACME in English, 华信银行 HXBK in Chinese; the demo scenario, seed 7) and on the ACME
incident with a duplicate storm added (a bot posting 200 near-copies of one text: case, hashtags, a link and
punctuation varied), the explanation of the incident's first ``--minutes`` against the entity's hour before,
both cut to the 20 texts a minute the store keeps (the storm is read uncut, as a store keeping every text would):

- key phrases: of the top five, how many are at least 3x more frequent in the window than in the baseline (goal: 3);
- representatives: the largest Jaccard similarity of word 3-grams (character 3-grams for Chinese) between any two
  shown (goal: below 0.8); for the storm, how many lines it takes and its count (goal: one line, ~200);
- cost: milliseconds to explain 2,000 texts (500 window, 1,500 baseline), median of 20 (goal: under 50).
The texts' sentiment is their human label from the scenario (-0.8 / 0 / +0.8), not the model's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from bench.common import console, print_table, write_json
from core.explain import Explanation, explain
from core.near_duplicates import jaccard, shingles
from core.settings import Settings

KEPT_PER_MINUTE = 20  # what storage keeps per entity-minute (add_event.lua's LTRIM)
SCORE = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}
STORM = "BREAKING: Acme Bank freezes all customer withdrawals, get your money out before it is too late"


def _text(event: dict[str, Any]) -> dict[str, Any]:
    label = event["meta"].get("label", "neutral")
    return {
        "text": event["text"],
        "score": SCORE.get(label, 0.0),
        "source": event["source"],
        "kind": event["kind"],
        "label": label,
    }


def _kept(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    per_minute: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        per_minute[e["published_at"][:16]].append(e)
    return [_text(e) for minute in sorted(per_minute) for e in per_minute[minute][-KEPT_PER_MINUTE:]]


def storm_copies(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = STORM if rng.random() < 0.5 else STORM.upper() if rng.random() < 0.2 else STORM.lower()
        text += rng.choice(["", "!", "!!", " #ACME", " #bankrun", f" https://t.co/{rng.randrange(10**6):06d}"])
        out.append({"text": text, "score": -0.8, "source": f"bot{i % 7}", "kind": "social", "label": "negative"})
    return out


def quality(explanation: Explanation) -> dict[str, Any]:
    top = explanation.key_phrases[:5]
    reps = [shingles(r.text) for r in explanation.representatives]
    closest = max((jaccard(a, b) for a, b in combinations(reps, 2)), default=0.0)
    return {
        "top5": [(k.phrase, k.ratio) for k in top],
        "top5_at_3x": sum(k.ratio >= 3 for k in top),
        "max_jaccard": round(closest, 3),
        "texts": explanation.texts,
        "baseline_texts": explanation.baseline_texts,
        "summary": explanation.summary,
    }


def main() -> None:
    from localdev.scenarios import build_scenario

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=5, help="the incident's first minutes the explanation reads")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    scenario = build_scenario(Settings(), "demo", 7)
    cases: dict[str, dict[str, Any]] = {}
    for incident in scenario.spec.incidents:
        start = scenario.start + timedelta(minutes=incident.start_min)
        mine = [e for e in scenario.events if e["meta"].get("entity") == incident.entity]
        at = [datetime.fromisoformat(e["published_at"].replace("Z", "+00:00")) for e in mine]
        window = [e for e, t in zip(mine, at, strict=True) if start <= t < start + timedelta(minutes=args.minutes)]
        before = [e for e, t in zip(mine, at, strict=True) if start - timedelta(minutes=60) <= t < start]
        explained = explain(incident.entity, _kept(window), _kept(before), minutes=args.minutes)
        cases[f"{incident.entity} incident"] = quality(explained)
        if incident.entity == "ACME":
            storm = storm_copies(200, seed=1)
            stormy = explain("ACME", _kept(window) + storm, _kept(before), minutes=args.minutes)
            figures = quality(stormy)
            lines = [r for r in stormy.representatives if r.text.lower().startswith(STORM.lower()[:40])]
            figures["storm_lines"], figures["storm_copies"] = len(lines), sum(r.copies for r in lines)
            cases["ACME incident + storm x200"] = figures
    pool = [_text(e) for e in scenario.events]
    rng = random.Random(3)
    sample = rng.sample(pool, 2000)
    window, baseline = sample[:500], sample[500:]
    explain("X", window, baseline, minutes=5)
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        explain("X", window, baseline, minutes=5)
        timings.append(1000 * (time.perf_counter() - started))
    cost = statistics.median(timings)
    print_table(
        f"alert explanations: the incident's first {args.minutes} min against the hour before "
        f"(texts cut to {KEPT_PER_MINUTE} a minute, as stored)",
        [
            "case",
            "texts / baseline",
            "top-5 phrases >= 3x (goal 3)",
            "closest two shown, Jaccard (goal < 0.8)",
            "storm: lines, copies (goal 1, ~200)",
        ],
        [
            [
                name,
                f"{f['texts']} / {f['baseline_texts']}",
                f"{f['top5_at_3x']}: " + ", ".join(f"{p} x{r:g}" for p, r in f["top5"]),
                f"{f['max_jaccard']:.2f}",
                f"{f['storm_lines']}, {f['storm_copies']}" if "storm_lines" in f else "-",
            ]
            for name, f in cases.items()
        ],
    )
    for name, f in cases.items():
        console.print(f"{name}: {f['summary']}")
    console.print(f"cost: {cost:.1f} ms to explain 2,000 texts (median of 20; min {min(timings):.1f}; goal < 50)")
    write_json(args.json, {"cases": cases, "ms_per_2000_texts": cost, "timings_ms": timings})


if __name__ == "__main__":
    main()

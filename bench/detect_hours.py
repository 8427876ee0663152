"""``bench.detect``'s hour sweep: which start hours a scenario runs at, and its figures collected run by run.

A scenario follows the clock (the traffic profile's daily cycle), so one started at 04:00 UTC is quieter than one
started at 16:00: fewer events in its incidents, and fewer for fresh detectors to learn an entity's usual from
before them. The sweep runs a scenario at each start hour and says, per incident and detector, in how many it was
detected, how late, and which hours missed it.

>>> sweep = HourSweep(columns=("cusum", "any"))
>>> for hour, delay in ((3, None), (9, 2.0), (15, 4.0)):
...     incident = {"entity": "ACME", "events_before": 10 * hour, "delays": {} if delay is None else {"cusum": delay}}
...     sweep.add("demo", hour, {"incidents": [incident], "false_alerts": {"any": 1}, "entity_days": 0.5})
>>> sweep.summary()["incidents"]["demo ACME"]["cusum"]
{'detected': '2/3', 'median_delay_min': 3.0, 'worst_delay_min': 4.0, 'missed_hours': [3]}
>>> sweep.summary()["false_per_entity_day"]["demo"]
{'cusum': 0.0, 'any': 2.0}
>>> sweep.grid_rows()[:2]
[['demo ACME: events before', '30', '90', '150'], ['demo ACME: cusum', '-', '2', '4']]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["HourSweep", "start_hours"]


def start_hours(count: int) -> list[int]:
    """``count`` start hours spread evenly over the day from 09:00 (one: 09:00 alone; 24: every hour).

    >>> start_hours(1), start_hours(4), start_hours(24) == list(range(24))
    ([9], [3, 9, 15, 21], True)
    """
    if not 1 <= count <= 24:
        raise ValueError(f"start hours: 1 to 24, not {count}")
    return sorted((9 + i * 24 // count) % 24 for i in range(count))


@dataclass
class HourSweep:
    """The sweep's figures, collected run by run (:meth:`add`), for ``columns`` (the detectors, and "any"): per
    incident (``"demo ACME"``: scenario and entity), each column's delay at each start hour (None: missed) and the
    events of its entity before it; per scenario, the false alerts and entity-days of its runs."""

    columns: tuple[str, ...]
    hours: list[int] = field(default_factory=list)
    delays: dict[str, dict[str, dict[int, float | None]]] = field(default_factory=dict)
    events_before: dict[str, dict[int, int]] = field(default_factory=dict)
    false: dict[str, dict[str, int]] = field(default_factory=dict)
    entity_days: dict[str, float] = field(default_factory=dict)

    def add(self, scenario: str, hour: int, figures: dict[str, Any]) -> None:
        """One run's figures (``bench.detect.assess``'s): its incidents and its false alerts."""
        if hour not in self.hours:
            self.hours.append(hour)
        for incident in figures["incidents"]:
            label = f"{scenario} {incident['entity']}"
            per_column = self.delays.setdefault(label, {c: {} for c in self.columns})
            for column, by_hour in per_column.items():
                by_hour[hour] = incident["delays"].get(column)
            self.events_before.setdefault(label, {})[hour] = incident["events_before"]
        false = self.false.setdefault(scenario, dict.fromkeys(self.columns, 0))
        for column in self.columns:
            false[column] += figures["false_alerts"].get(column, 0)
        self.entity_days[scenario] = self.entity_days.get(scenario, 0.0) + figures["entity_days"]

    def summary(self) -> dict[str, Any]:
        """Per incident and column: detected in how many start hours, median and worst delay, the hours that
        missed it; per scenario and column: false alerts per entity-day."""
        incidents: dict[str, dict[str, Any]] = {}
        for label, per_column in self.delays.items():
            incidents[label] = {}
            for column, by_hour in per_column.items():
                found = [v for v in by_hour.values() if v is not None]
                incidents[label][column] = {
                    "detected": f"{len(found)}/{len(by_hour)}",
                    "median_delay_min": float(np.median(found)) if found else None,
                    "worst_delay_min": max(found) if found else None,
                    "missed_hours": sorted(h for h, v in by_hour.items() if v is None),
                }
        false = {
            scenario: {c: n / max(self.entity_days[scenario], 1e-9) for c, n in per.items()}
            for scenario, per in self.false.items()
        }
        return {"hours": sorted(self.hours), "incidents": incidents, "false_per_entity_day": false}

    def summary_rows(self) -> list[list[str]]:
        """:meth:`summary` as table rows: the measure, then one cell per column."""
        summary, rows = self.summary(), []
        for label, per_column in summary["incidents"].items():
            rows.append([f"{label}: detected", *(per_column[c]["detected"] for c in self.columns)])
            rows.append([f"{label}: delay median / worst (min)", *(_median_worst(per_column[c]) for c in self.columns)])
        for scenario, per in summary["false_per_entity_day"].items():
            cells = [f"{per[c]:.3f} ({self.false[scenario][c]})" for c in self.columns]
            rows.append([f"{scenario}: false alerts / entity-day", *cells])
        return rows

    def grid_rows(self) -> list[list[str]]:
        """Per incident: its entity's events before it, then each column's delay ("-": missed), one cell per start
        hour in order."""
        hours, rows = sorted(self.hours), []
        for label, per_column in self.delays.items():
            rows.append([f"{label}: events before", *(str(self.events_before[label][h]) for h in hours)])
            for column, by_hour in per_column.items():
                rows.append(
                    [f"{label}: {column}", *("-" if by_hour[h] is None else f"{by_hour[h]:.0f}" for h in hours)]
                )
        return rows


def _median_worst(figures: dict[str, Any]) -> str:
    if figures["median_delay_min"] is None:
        return "-"
    return f"{figures['median_delay_min']:.1f} / {figures['worst_delay_min']:.0f}"

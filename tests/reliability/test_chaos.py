"""The chaos run in its short form (``bench.chaos``; the long one is run by hand): real texts at a steady rate
while a worker, Redis, PostgreSQL, the Kafka broker and Triton are each killed -9 and restarted once at random
times and a worker is frozen; then every invariant against the offline recount of what Kafka acknowledged."""

from __future__ import annotations

from bench.chaos import ChaosOptions, run
from core.settings import Settings


async def test_a_short_chaos_run_loses_nothing_and_repeats_nothing(stack: Settings, tmp_path, record) -> None:  # type: ignore[no-untyped-def]
    # a quiet spell of 15 s closes the last minute: three times a producer's longest reconnect after the broker's
    # restart (the long run keeps 30 s)
    options = ChaosOptions(
        minutes=1.5, rate=40, repeats=1, down_s=3.0, freeze_s=10.0, partitions=3, idle_grace_s=15.0, logs=tmp_path
    )
    figures = await run(stack, options)
    record(
        {
            "events": figures["events_produced"],
            "counted": figures["events_produced"] - figures["lost"] + figures["double_counted"],
            "minutes_incomplete": figures["incomplete_minutes"],
            "alerts": figures["alerts"],
            "dead_letters": figures["malformed_dead_lettered"],
        }
    )
    assert figures["events_produced"] > 2000
    assert (figures["lost"], figures["double_counted"]) == (0, 0), figures["miscounted_minutes"]
    assert figures["incomplete_minutes"] == 0
    assert (figures["duplicate_alerts"], figures["missing_alerts"]) == (0, 0)
    assert (figures["duplicate_webhooks"], figures["missing_webhooks"]) == (0, 0)
    assert figures["malformed_dead_lettered"] == figures["malformed_sent"] > 0
    assert figures["dead_letters_without_reason"] == 0
    assert {f["kind"] for f in figures["faults"]} == {"worker", "redis", "postgres", "kafka", "triton", "freeze"}
    stalled = [f for f in figures["faults"] if f["during_feed"] and f["resumed_after_s"] is None]
    assert not stalled, stalled  # each fault during the feed: scoring resumed after it

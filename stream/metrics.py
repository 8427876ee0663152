"""Prometheus metrics of the stream workers (exposed by ``radar worker`` on its metrics port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ALERTS",
    "BATCH_SIZE",
    "CLOSE_DELAY",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DUPLICATES",
    "EVENTS_IN",
    "EVENTS_IN_FLIGHT",
    "EVENTS_SCORED",
    "INFERENCE_LATENCY",
    "INFERENCE_RETRIES",
    "LATE_EVENTS",
    "TRITON_WAITING",
]

EVENTS_IN = Counter("radar_events_in_total", "Raw messages consumed", ["topic"])
EVENTS_SCORED = Counter("radar_events_scored_total", "Scored events produced")
DEAD_LETTERS = Counter("radar_dead_letters_total", "Messages sent to the dead-letter topic", ["stage"])
DUPLICATES = Counter("radar_duplicates_dropped_total", "Events dropped as duplicates by id", ["stage"])
BATCH_SIZE = Histogram(
    "radar_batch_size_events", "Events per micro-batch sent to Triton", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
INFERENCE_LATENCY = Histogram(
    "radar_inference_duration_seconds",
    "Triton latency per micro-batch",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
INFERENCE_RETRIES = Counter("radar_inference_retries_total", "Triton requests retried")
TRITON_WAITING = Gauge("radar_triton_waiting", "1 while the score agent holds back because Triton is unavailable")
LATE_EVENTS = Counter("radar_late_events_total", "Scored events whose minute was already closed (still counted)")
ALERTS = Counter("radar_alerts_total", "Alerts raised", ["detector", "severity"])
CONSUMER_LAG = Gauge("radar_consumer_lag_messages", "Messages behind the high watermark", ["topic", "partition"])
EVENTS_IN_FLIGHT = Gauge("radar_events_in_flight", "Events taken from Kafka and not yet published as scored")
CLOSE_DELAY = Gauge(
    "radar_close_delay_seconds", "How far the last closed minute's end lags behind the wall clock (closer)"
)

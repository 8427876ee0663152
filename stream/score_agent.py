"""The score agent: raw topics -> validate, dedupe, tag -> micro-batch to Triton -> ``radar.scored``.

At-least-once: a batch's offsets are acked (and so committed) only after its scored events and dead letters
are acknowledged by Kafka. While Triton is unavailable the agent keeps retrying the same batch and pulls
nothing new (backpressure); no event is skipped. If the worker is stopped mid-batch, the batch is held back
(its offsets stay uncommitted) and is redelivered after the restart.

This module only wires Faust, Kafka and Triton to :class:`stream.score_stage.ScoreStage`, where the logic is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import faust
import redis.asyncio as aioredis

from core.settings import Settings
from inference.triton_client import TritonSentimentClient
from storage.entity_quota import RedisEntityQuota
from stream.events import EventTimePolicy
from stream.score_stage import OutRecord, RecordSink, ScoreStage
from stream.scoring import Incoming, RecentIds, Tagger
from stream.watchlist import LiveWatchlist

__all__ = ["ProducerSink", "hold_back", "received", "register_score_agent", "score_events", "stage_factory"]


def received(event: Any) -> Incoming:
    """A Faust event as the pure stages take it: its bytes, key, topic, partition and offset."""
    message = event.message
    return Incoming(event.value, event.key, message.topic, message.partition, message.offset)


class ProducerSink:
    """The Faust app's Kafka producer as a :class:`stream.score_stage.RecordSink`: send, then await the ack."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(self, record: OutRecord) -> None:
        headers = list(record.headers) if record.headers else None
        future = await self.app.producer.send(record.topic, record.key, record.value, None, None, headers)
        await future


def hold_back(events: Sequence[Any]) -> None:
    """Keep these events' offsets out of the commit.

    Faust's ``take_events`` acks a batch in a ``finally``, also when the body was cancelled. Marking the
    messages as acked without telling the consumer leaves a gap at their offsets; Faust commits only up to the
    first gap, so the events are delivered again after a restart instead of being lost.
    """
    for event in events:
        event.message.acked = True


def stage_factory(
    settings: Settings, sink: RecordSink, tag: Tagger, watched: Callable[[], Collection[str]] = frozenset
) -> Callable[[], ScoreStage]:
    """A maker of score stages: one Triton client per language's model each; the tagger (the worker's live
    watchlist, with the mentions a pair model reads), what the watchlist holds (producer-named entities off it
    pass the per-source quota in Redis) and the memory of recent ids shared by every stage of the worker."""
    policy = EventTimePolicy(max_future_s=settings.event_max_future_s, max_age_s=settings.event_max_age_s)
    kind_of_topic = {settings.topics.raw_news: "news", settings.topics.raw_social: "social"}
    seen = RecentIds()

    def new_stage() -> ScoreStage:
        names = {"en": settings.model_name, "zh": settings.model_name_zh}
        clients = {
            lang: TritonSentimentClient(settings.triton_grpc_url, name, timeout_s=settings.inference_timeout_s)
            for lang, name in names.items()
        }
        quota = RedisEntityQuota(
            aioredis.from_url(settings.redis_url),
            per_source=settings.entity_quota_per_source,
            prefix=settings.redis_prefix,
        )
        return ScoreStage(
            clients,
            sink,
            scored_topic=settings.topics.scored,
            deadletter_topic=settings.topics.deadletter,
            kind_of_topic=kind_of_topic,
            tag=tag,
            policy=policy,
            seen=seen,
            request_size=settings.max_batch_size,
            gate=quota,
            watched=watched,
        )

    return new_stage


async def score_events(stage: ScoreStage, events: Sequence[Any]) -> None:
    """One batch of Faust events through the stage; held back (not committed) if anything stops it."""
    try:
        items = [received(e) for e in events]
        prepared = await stage.score_batch(items)
    except BaseException:
        hold_back(events)
        raise
    stage.acknowledge(prepared)


def register_score_agent(app: faust.App, settings: Settings, *, watchlist: LiveWatchlist) -> Any:
    """The score agent, tagging with ``watchlist`` (refreshed from SQL by the worker: see stream.watchlist)."""
    raw = app.topic(*settings.topics.raw(), value_serializer="raw", key_serializer="raw")
    new_stage = stage_factory(settings, ProducerSink(app), watchlist.mentions, lambda: watchlist.watched)
    window_s = settings.batch_window_ms / 1000

    # One actor, so a partition's offsets are acked in the order they were read; the batch is cut into
    # ``score_concurrency`` Triton requests that run at once (ScoreStage.infer). Faust's concurrency=N instead let a
    # later batch ack first, and Faust commits a run of acked offsets even when an earlier batch of the same
    # partition is still in flight if the consumer has no commit of its own yet (its head-gap check reads a
    # committed offset of None or 0 as "no gap"): a kill then lost that batch, and the closer took it for counted.
    @app.agent(raw, name="score")
    async def score(stream: faust.StreamT) -> None:
        stage = new_stage()
        await watchlist.ready()
        await stage.start()
        batch = settings.max_batch_size * settings.score_concurrency
        async for events in stream.take_events(batch, within=window_s):  # type: ignore[attr-defined]  # on Stream, not StreamT
            await score_events(stage, events)

    return score

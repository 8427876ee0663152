"""The score stage (stream.score_stage) with a fake model and a fake sink, no Triton or Kafka: it scores valid
events, dead-letters the rest, holds its batch while Triton or Kafka is away, resends only what failed, and sends a
dead letter too large for its topic without its original bytes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from aiokafka.errors import MessageSizeTooLargeError

from core.errors import InferenceUnavailable, ModelContractError, StorageError
from core.events import dedupe_key
from core.retry import Backoff
from inference.resilience import CircuitBreaker
from inference.triton_client import ModelInfo
from stream.score_agent import score_events
from stream.score_stage import OutRecord, ScoreStage, too_large
from stream.scoring import Incoming

NEWS, SCORED, DEAD = "radar.raw.news", "radar.scored", "radar.deadletter"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class FakeModel:
    """Triton as the stage sees it: ``init`` and ``infer`` fail while told to, probabilities per text."""

    url, model_name = "fake:8001", "sentiment"

    def __init__(self, init_failures: int = 0, infer_failures: int = 0) -> None:
        self.init_failures, self.infer_failures = init_failures, infer_failures
        self.retries = 0
        self.breaker = CircuitBreaker()
        self.batches: list[list[str]] = []
        self.probs_of: Callable[[str], list[Any]] = lambda text: [0.7, 0.2, 0.1] if "bad" in text else [0.1, 0.2, 0.7]

    async def init(self) -> ModelInfo:
        if self.init_failures:
            self.init_failures -= 1
            raise InferenceUnavailable("no ready model")
        return ModelInfo("sentiment", "3", 64)

    async def infer(self, texts: Sequence[str], targets: Sequence[str] | None = None) -> np.ndarray:
        assert targets is None, "a text-level model is never sent targets"
        self.batches.append(list(texts))
        if self.infer_failures:
            self.infer_failures -= 1
            self.retries += 3  # the client's own retries inside the call
            raise InferenceUnavailable("Triton away")
        rows = [self.probs_of(t) for t in texts]
        return np.array(rows, dtype=object if any(isinstance(x, complex) for r in rows for x in r) else np.float32)


class FakeSink:
    """Kafka as the stage sees it; ``fail(record, attempt)`` returns the error to raise for that send, if any."""

    def __init__(self, fail: Callable[[OutRecord, int], BaseException | None] = lambda record, attempt: None) -> None:
        self.fail = fail
        self.tries: dict[bytes, int] = {}
        self.sent: list[OutRecord] = []

    async def send(self, record: OutRecord) -> None:
        attempt = self.tries.get(record.value, 0)
        self.tries[record.value] = attempt + 1
        error = self.fail(record, attempt)
        if error is not None:
            raise error
        self.sent.append(record)

    def to(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in self.sent if r.topic == topic]


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Top:
    """A random source drawing the top of each range: waits are the backoff's ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


def raw(event_id: str, text: str = "ACME did well", **extra: Any) -> bytes:
    record = {"id": event_id, "source": "wire", "text": text, "published_at": "2026-03-02T09:29:00Z", **extra}
    return json.dumps(record).encode()


def incoming(*values: bytes | None) -> list[Incoming]:
    return [Incoming(value, None, NEWS, 2, 40 + i) for i, value in enumerate(values)]


def make_stage(model: FakeModel, sink: FakeSink, sleeps: Sleeps | None = None, **options: Any) -> ScoreStage:
    """The stage the tests score with (``options``: the stage's other keyword arguments, a quota gate say)."""
    return ScoreStage(
        model,
        sink,
        scored_topic=SCORED,
        deadletter_topic=DEAD,
        kind_of_topic={NEWS: "news"},
        tag=lambda text: ["ACME"] if "ACME" in text else [],
        clock=lambda: NOW,
        sleep=sleeps or Sleeps(),
        rng=Top(),
        **options,
    )


async def test_start_waits_for_the_model() -> None:
    sleeps = Sleeps()
    stage = make_stage(FakeModel(init_failures=3), FakeSink(), sleeps)
    info = await stage.start()
    assert (info.label, stage.info) == ("sentiment/3", info)
    assert sleeps.waits == [0.5, 1.0, 2.0]


async def test_a_model_that_breaks_the_contract_stops_the_stage_at_once() -> None:
    model = FakeModel()

    async def mismatch() -> ModelInfo:
        raise ModelContractError("PROBS must be FP32 [3]")

    model.init = mismatch  # type: ignore[method-assign]
    with pytest.raises(ModelContractError):
        await make_stage(model, FakeSink()).start()


async def test_no_batch_is_scored_before_the_model_is_known() -> None:
    with pytest.raises(RuntimeError, match="start"):
        await make_stage(FakeModel(), FakeSink()).score_batch(incoming(raw("a")))


async def test_valid_events_are_scored_and_the_rest_dead_lettered() -> None:
    sink = FakeSink()
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    prepared = await stage.score_batch(incoming(raw("a"), b"\xff{", raw("b", "a bad day"), raw("a"), raw("c", "")))
    assert prepared.duplicates == 1
    scored = sink.to(SCORED)
    assert [(s["id"], s["entities"], s["sentiment"]["label"]) for s in scored] == [
        ("a", ["ACME"], "positive"),
        ("b", [], "negative"),
    ]
    assert {s["scored_at"] for s in scored} == {NOW.isoformat()}
    assert all(s["model"] == {"name": "sentiment", "version": "3"} for s in scored)
    first = next(r for r in sink.sent if r.topic == SCORED)
    assert (first.key, first.headers) == (b"a", None)
    letters = sink.to(DEAD)
    assert [(d["offset"], d["stage"]) for d in letters] == [(41, "validate"), (44, "validate")]


async def test_a_record_that_fails_after_scoring_is_dead_lettered_and_the_batch_goes_on() -> None:
    model, sink = FakeModel(), FakeSink()
    model.probs_of = lambda text: [0.1, 0.2, 1j] if "poison" in text else [0.1, 0.2, 0.7]
    stage = make_stage(model, sink)
    await stage.start()
    prepared = await stage.score_batch(incoming(raw("a"), raw("p", "poison")))
    assert [s["id"] for s in sink.to(SCORED)] == ["a"]
    (letter,) = sink.to(DEAD)
    assert letter["reason"].startswith("unhandled TypeError") and letter["offset"] == 41
    assert len(prepared.dead) == 1


async def test_while_triton_is_away_the_batch_is_held_and_retried_whole() -> None:
    model, sink, sleeps = FakeModel(infer_failures=3), FakeSink(), Sleeps()
    stage = make_stage(model, sink, sleeps)
    await stage.start()
    await stage.score_batch(incoming(raw("a"), raw("b")))
    assert model.batches == [["ACME did well", "ACME did well"]] * 4
    assert sleeps.waits == [0.2, 0.4, 0.8]
    assert [s["id"] for s in sink.to(SCORED)] == ["a", "b"], "scored once Triton is back, nothing skipped"


async def test_an_open_breaker_sets_the_least_wait() -> None:
    model, sleeps = FakeModel(infer_failures=1), Sleeps()
    model.breaker = CircuitBreaker(threshold=1, reset_s=30.0)
    model.breaker.record_failure(time.monotonic())
    stage = make_stage(model, FakeSink(), sleeps)
    await stage.start()
    await stage.score_batch(incoming(raw("a")))
    (wait,) = sleeps.waits
    assert 29.0 < wait <= 30.0


async def test_only_the_records_kafka_refused_are_sent_again() -> None:
    sink = FakeSink(
        lambda record, attempt: ConnectionError("broker away") if record.key == b"b" and attempt < 2 else None
    )
    sleeps = Sleeps()
    stage = make_stage(FakeModel(), sink, sleeps)
    await stage.start()
    await stage.score_batch(incoming(raw("a"), raw("b"), raw("c")))
    assert sorted(s["id"] for s in sink.to(SCORED)) == ["a", "b", "c"], "each scored event sent exactly once"
    assert sorted(sink.tries.values()) == [1, 1, 3]
    assert sleeps.waits == [0.2, 0.4]


async def test_a_dead_letter_too_large_for_its_topic_goes_without_its_original() -> None:
    def refuse_big(record: OutRecord, attempt: int) -> BaseException | None:
        letter = record.letter
        return MessageSizeTooLargeError() if letter is not None and letter.original_b64 else None

    sink = FakeSink(refuse_big)
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    await stage.score_batch(incoming(b"not json at all"))
    (letter,) = sink.to(DEAD)
    assert letter["original_b64"] == "" and "original not copied" in letter["reason"]
    assert f"{NEWS}/2@40" in letter["reason"], "it names where the original stays"


def test_a_size_refusal_is_recognised_through_its_causes() -> None:
    wrapped = RuntimeError("send failed")
    wrapped.__cause__ = MessageSizeTooLargeError()
    assert too_large(wrapped) and not too_large(ConnectionError("away"))


async def test_acknowledge_remembers_the_ids_so_a_redelivery_is_a_duplicate() -> None:
    sink = FakeSink()
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    stage.acknowledge(await stage.score_batch(incoming(raw("a"))))
    again = await stage.score_batch(incoming(raw("a")))
    assert (again.duplicates, len(sink.to(SCORED))) == (1, 1)


def _faust_events(*values: bytes) -> list[Any]:
    message = {"topic": NEWS, "partition": 0, "acked": False}
    return [
        SimpleNamespace(value=v, key=None, message=SimpleNamespace(offset=i, **message)) for i, v in enumerate(values)
    ]


async def test_a_batch_stopped_mid_way_is_held_back_and_not_remembered() -> None:
    async def cancelled(record: OutRecord) -> None:
        raise asyncio.CancelledError

    sink = FakeSink()
    sink.send = cancelled  # type: ignore[method-assign]
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    events = _faust_events(raw("a"))
    with pytest.raises(asyncio.CancelledError):
        await score_events(stage, events)
    assert events[0].message.acked, "marked acked without the consumer: a gap, so the offset is not committed"
    assert "a" not in stage.seen


async def test_a_batch_that_went_through_is_remembered() -> None:
    stage = make_stage(FakeModel(), FakeSink())
    await stage.start()
    events = _faust_events(raw("a"))
    await score_events(stage, events)
    assert dedupe_key("wire", "a") in stage.seen and not events[0].message.acked


def test_the_stage_waits_with_the_one_core_backoff() -> None:
    stage = make_stage(FakeModel(), FakeSink())
    assert isinstance(stage.backoff, Backoff) and isinstance(stage.start_backoff, Backoff)


async def test_every_scored_event_says_its_language() -> None:
    sink = FakeSink()
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    await stage.score_batch(
        incoming(
            raw("en", "ACME beat estimates"),
            raw("zh", "ACME 银行逾期兑付，投资者维权"),
            raw("fr", "ACME", lang="fr-FR"),
        )
    )
    assert {s["id"]: s["lang"] for s in sink.to(SCORED)} == {"en": "en", "zh": "zh", "fr": "fr"}


async def test_a_large_batch_goes_as_concurrent_requests_and_comes_back_in_order() -> None:
    model, sink = FakeModel(), FakeSink()
    stage = make_stage(model, sink)
    stage.request_size = 64
    await stage.start()
    texts = [f"ACME text {i} {'a bad day' if i % 3 == 0 else 'fine'}" for i in range(150)]
    probs = await stage.infer(texts)
    assert [len(b) for b in model.batches] == [64, 64, 22]
    assert np.allclose(probs, np.array([model.probs_of(t) for t in texts], dtype=np.float32))


def test_the_score_agent_is_one_actor_that_takes_concurrent_requests_worth() -> None:
    """With several actors a later batch could ack first, and Faust then committed past the earlier one (issue 24)."""
    from core.settings import Settings
    from stream.app import create_app
    from stream.score_agent import register_score_agent
    from stream.watchlist import FileWatchlist, LiveWatchlist

    settings = Settings(score_concurrency=4, max_batch_size=64)
    app = create_app(settings, app_id="unit-score-agent")
    agent = register_score_agent(app, settings, watchlist=LiveWatchlist(FileWatchlist(settings.watchlist)))
    assert agent.concurrency == 1


class FakePairModel:
    """A Chinese pair model: negative toward a target the text says is overdue (``<target>逾期``), else neutral."""

    url, model_name = "fake:8001", "sentiment_zh"

    def __init__(self) -> None:
        self.retries = 0
        self.breaker = CircuitBreaker()
        self.rows: list[tuple[str, str]] = []

    async def init(self) -> ModelInfo:
        return ModelInfo("sentiment_zh", "2", 64, takes_target=True, pairs=True)

    async def infer(self, texts: Sequence[str], targets: Sequence[str] | None = None) -> np.ndarray:
        assert targets is not None and len(targets) == len(texts)
        self.rows.extend(zip(texts, targets, strict=True))
        return np.array(
            [
                [0.8, 0.1, 0.1] if t and f"{t}逾期" in x else [0.1, 0.8, 0.1]
                for x, t in zip(texts, targets, strict=True)
            ],
            dtype=np.float32,
        )


async def test_a_pair_model_gives_each_entity_of_a_text_its_own_sentiment() -> None:
    english, chinese, sink = FakeModel(), FakePairModel(), FakeSink()
    mentions = {"甲公司": "JIA", "乙银行": "YI", "ACME": "ACME"}
    stage = ScoreStage(
        {"en": english, "zh": chinese},
        sink,
        scored_topic=SCORED,
        deadletter_topic=DEAD,
        kind_of_topic={NEWS: "news"},
        tag=lambda text: {entity: name for name, entity in mentions.items() if name in text},
        clock=lambda: NOW,
        sleep=Sleeps(),
        rng=Top(),
    )
    await stage.start()
    zh = "甲公司起诉乙银行：乙银行逾期未兑付"
    await stage.score_batch(incoming(raw("zh", zh), raw("en", "ACME had a bad day")))
    out = {s["id"]: s for s in sink.to(SCORED)}
    # the pair model read the text once on its own and once toward each entity, by the mention as written
    assert sorted(chinese.rows) == sorted([(zh, ""), (zh, "甲公司"), (zh, "乙银行")])
    assert out["zh"]["entities"] == ["JIA", "YI"] and out["zh"]["model"]["name"] == "sentiment_zh"
    assert {e: s["label"] for e, s in out["zh"]["entity_sentiments"].items()} == {"JIA": "neutral", "YI": "negative"}
    assert out["zh"]["sentiment"]["label"] == "neutral"  # the text as a whole
    # the English text-level model read the text once, without targets; its entity takes the text's sentiment
    assert english.batches == [["ACME had a bad day"]]
    assert out["en"]["model"]["name"] == "sentiment" and out["en"]["entity_sentiments"] == {}
    assert out["en"]["sentiment"]["label"] == "negative"


async def test_a_text_naming_one_entity_is_read_once_toward_it() -> None:
    chinese, sink = FakePairModel(), FakeSink()
    stage = ScoreStage(
        {"en": FakeModel(), "zh": chinese},
        sink,
        scored_topic=SCORED,
        deadletter_topic=DEAD,
        kind_of_topic={NEWS: "news"},
        tag=lambda text: {"YI": "乙银行"} if "乙银行" in text else {},
        clock=lambda: NOW,
        sleep=Sleeps(),
        rng=Top(),
    )
    await stage.start()
    one, none = "市场消息：乙银行逾期未兑付", "今天天气很好"
    await stage.score_batch(incoming(raw("one", one), raw("none", none)))
    out = {s["id"]: s for s in sink.to(SCORED)}
    assert sorted(chinese.rows) == sorted([(one, "乙银行"), (none, "")])  # one row each, never the text twice
    assert out["one"]["entity_sentiments"]["YI"]["label"] == "negative"
    assert out["one"]["sentiment"]["label"] == "negative"  # the row toward its only entity is the text's too
    assert out["none"]["sentiment"]["label"] == "neutral" and out["none"]["entity_sentiments"] == {}


async def test_a_language_without_a_model_of_its_own_is_scored_by_the_fallback() -> None:
    english, chinese, sink = FakeModel(), FakePairModel(), FakeSink()
    stage = ScoreStage(
        {"en": english, "zh": chinese},
        sink,
        scored_topic=SCORED,
        deadletter_topic=DEAD,
        kind_of_topic={NEWS: "news"},
        tag=lambda text: [],
        clock=lambda: NOW,
        sleep=Sleeps(),
        rng=Top(),
    )
    await stage.start()
    await stage.score_batch(incoming(raw("fr", "Сбербанк снизил ставку", lang="ru")))
    (scored,) = sink.to(SCORED)
    assert (scored["lang"], scored["model"]["name"], chinese.rows) == ("ru", "sentiment", [])


def test_the_models_must_include_the_fallback() -> None:
    with pytest.raises(ValueError, match="fallback"):
        ScoreStage(
            {"zh": FakePairModel()},
            FakeSink(),
            scored_topic=SCORED,
            deadletter_topic=DEAD,
            kind_of_topic={NEWS: "news"},
            tag=lambda text: [],
        )


async def test_the_same_id_from_two_sources_is_two_events() -> None:
    """Dedupe is by (source, id): two feeds may both number from 1, and a client cannot claim another's ids."""
    sink = FakeSink()
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    first = await stage.score_batch(incoming(raw("1", source="wire-a"), raw("1", source="wire-b")))
    stage.acknowledge(first)
    again = await stage.score_batch(incoming(raw("1", source="wire-b")))
    assert (first.duplicates, again.duplicates, len(sink.to(SCORED))) == (0, 1, 2)


class QuotaGate:
    """The entity quota as the stage sees it: ``per_source`` ids off the watchlist per source, then refusals;
    away (StorageError) for its first ``away`` calls."""

    def __init__(self, per_source: int, away: int = 0) -> None:
        self.per_source, self.away = per_source, away
        self.admitted: dict[tuple[str | None, int], list[str]] = {}
        self.asked: list[list[tuple[str | None, list[str]]]] = []

    async def admit(self, requests: Sequence[tuple[str | None, Sequence[str]]], *, day: int) -> list[set[str]]:
        self.asked.append([(source, list(off)) for source, off in requests])
        if self.away:
            self.away -= 1
            raise StorageError("Redis away")
        answers = []
        for source, off in requests:
            taken = self.admitted.setdefault((source, day), [])
            for entity in off:
                if entity not in taken and len(taken) < self.per_source:
                    taken.append(entity)
            answers.append({e for e in off if e in taken})
        return answers


def gated_stage(gate: QuotaGate, sink: FakeSink, sleeps: Sleeps | None = None) -> ScoreStage:
    return make_stage(FakeModel(), sink, sleeps, gate=gate, watched=lambda: {"ACME", "GLBX"})


async def test_entities_off_the_watchlist_pass_the_sources_quota_and_the_event_keeps_the_rest() -> None:
    gate, sink = QuotaGate(per_source=2), FakeSink()
    stage = gated_stage(gate, sink)
    await stage.start()
    await stage.score_batch(
        incoming(
            raw("1", entities=["ACME", "X1", "X2"]),
            raw("2", entities=["X3", "GLBX"]),  # the source's third new id: refused
            raw("3", entities=["X1"], source="other"),  # another source has a quota of its own
            raw("4", entities=["X2", "X3"]),  # an id the source introduced today stays admitted
        )
    )
    scored = {s["id"]: s["entities"] for s in sink.to(SCORED)}
    assert scored == {"1": ["ACME", "X1", "X2"], "2": ["GLBX"], "3": ["X1"], "4": ["X2"]}
    # watchlist entities are never asked about
    assert gate.asked == [[("wire", ["X1", "X2"]), ("wire", ["X3"]), ("other", ["X1"]), ("wire", ["X2", "X3"])]]


async def test_an_event_whose_every_entity_is_refused_is_still_scored_and_counted() -> None:
    gate, sink = QuotaGate(per_source=0), FakeSink()
    stage = gated_stage(gate, sink)
    await stage.start()
    await stage.score_batch(incoming(raw("1", entities=["X1"])))
    assert [(s["id"], s["entities"]) for s in sink.to(SCORED)] == [("1", [])]
    assert sink.to(DEAD) == []


async def test_while_the_quota_is_away_the_batch_is_held_then_gated() -> None:
    sleeps = Sleeps()
    gate, sink = QuotaGate(per_source=1, away=2), FakeSink()
    stage = gated_stage(gate, sink, sleeps)
    await stage.start()
    await stage.score_batch(incoming(raw("1", entities=["X1", "X2"])))
    assert len(gate.asked) == 3 and len(sleeps.waits) == 2
    assert [s["entities"] for s in sink.to(SCORED)] == [["X1"]]

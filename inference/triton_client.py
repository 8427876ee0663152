"""The Triton worker: async gRPC client of the ``sentiment`` model with the contract checked at start.

``init()`` fails with :class:`ModelContractError` when the served model is not TEXT(BYTES,[1]) [, TARGET(BYTES,[1])]
-> PROBS(FP32,[3]) with ``max_batch_size >= 64``; it learns whether the model reads (target, text) pairs (config
parameter ``pairs``), so the caller sends one row per entity only to a model that tells them apart.
``infer()`` splits a batch into chunks Triton accepts, keeps
several requests in flight, retries transient failures with backoff and raises :class:`InferenceUnavailable`
when Triton keeps failing, so the caller can hold back (never skip) the events it was scoring.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import InferenceUnavailable, ModelContractError
from inference.resilience import Backoff, CircuitBreaker

__all__ = ["ModelInfo", "TritonSentimentClient", "check_contract"]

MIN_BATCH = 64


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    max_batch_size: int
    takes_target: bool = False  # the model declares the optional TARGET input
    pairs: bool = False  # ... and reads it: the sentiment toward each target differs

    @property
    def label(self) -> str:
        return f"{self.name}/{self.version}"


def check_contract(metadata: dict[str, Any], config: dict[str, Any]) -> ModelInfo:
    """Validate Triton's model metadata and config (as JSON dicts) against docs/architecture.md's model contract.

    >>> md = {"name": "sentiment", "versions": ["2"],
    ...       "inputs": [{"name": "TEXT", "datatype": "BYTES", "shape": ["-1", "1"]}],
    ...       "outputs": [{"name": "PROBS", "datatype": "FP32", "shape": ["-1", "3"]}]}
    >>> check_contract(md, {"max_batch_size": 64}).label
    'sentiment/2'
    >>> md["inputs"].append({"name": "TARGET", "datatype": "BYTES", "shape": ["-1", "1"]})
    >>> info = check_contract(md, {"max_batch_size": 64, "parameters": {"pairs": {"string_value": "true"}}})
    >>> info.takes_target, info.pairs
    (True, True)
    >>> check_contract(md, {"max_batch_size": 8})
    Traceback (most recent call last):
    ...
    core.errors.ModelContractError: sentiment: max_batch_size 8 < 64
    """
    name = metadata.get("name", "?")
    inputs = {i["name"]: i for i in metadata.get("inputs", [])}
    outputs = {o["name"]: o for o in metadata.get("outputs", [])}
    problems = []
    text = inputs.get("TEXT")
    if text is None or text.get("datatype") != "BYTES" or [str(d) for d in text.get("shape", [])][-1:] != ["1"]:
        problems.append(f"input TEXT must be BYTES [1], got {text}")
    probs = outputs.get("PROBS")
    if probs is None or probs.get("datatype") != "FP32" or [str(d) for d in probs.get("shape", [])][-1:] != ["3"]:
        problems.append(f"output PROBS must be FP32 [3], got {probs}")
    target = inputs.get("TARGET")
    if target is not None and (
        target.get("datatype") != "BYTES" or [str(d) for d in target.get("shape", [])][-1:] != ["1"]
    ):
        problems.append(f"input TARGET must be BYTES [1], got {target}")
    pairs = str(config.get("parameters", {}).get("pairs", {}).get("string_value", "false")).lower() == "true"
    max_batch = int(config.get("max_batch_size", 0))
    if max_batch < MIN_BATCH:
        problems.append(f"max_batch_size {max_batch} < {MIN_BATCH}")
    if problems:
        raise ModelContractError(f"{name}: " + "; ".join(problems))
    versions = metadata.get("versions") or ["?"]
    return ModelInfo(
        name=name,
        version=str(versions[-1]),
        max_batch_size=max_batch,
        takes_target=target is not None,
        pairs=target is not None and pairs,
    )


class TritonSentimentClient:
    def __init__(
        self,
        url: str,
        model_name: str = "sentiment",
        *,
        timeout_s: float = 10.0,
        max_in_flight: int = 8,
        attempts: int = 4,
        backoff: Backoff | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.url = url
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff = backoff or Backoff()
        self.breaker = breaker or CircuitBreaker()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._client: Any = None
        self.info: ModelInfo | None = None
        self.retries = 0

    async def init(self) -> ModelInfo:
        import tritonclient.grpc.aio as grpcclient

        if self._client is None:
            self._client = grpcclient.InferenceServerClient(self.url)
        try:
            metadata = await self._client.get_model_metadata(self.model_name, as_json=True)
            config = (await self._client.get_model_config(self.model_name, as_json=True))["config"]
        except Exception as exc:
            raise InferenceUnavailable(f"Triton at {self.url} has no ready model {self.model_name!r}: {exc}") from exc
        self.info = check_contract(metadata, config)
        return self.info

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def infer(self, texts: Sequence[str], targets: Sequence[str] | None = None) -> np.ndarray:
        """PROBS for ``texts`` in order (each toward its target, where given and the model reads pairs); raises
        InferenceUnavailable after the retries are spent."""
        if self.info is None:
            await self.init()
        assert self.info is not None  # for mypy; init() sets it or raises
        if targets is not None and len(targets) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(targets)} targets")
        given = list(targets) if targets is not None and self.info.takes_target else None
        size = self.info.max_batch_size
        chunks = [
            (list(texts[i : i + size]), given[i : i + size] if given is not None else None)
            for i in range(0, len(texts), size)
        ]
        results = await asyncio.gather(*(self._infer_chunk(chunk, aims) for chunk, aims in chunks))
        return np.concatenate(results) if results else np.zeros((0, 3), dtype=np.float32)

    async def _infer_chunk(self, texts: list[str], targets: list[str] | None) -> np.ndarray:
        import tritonclient.grpc.aio as grpcclient

        last: Exception | None = None
        for attempt in range(self.attempts):
            now = time.monotonic()
            if not self.breaker.allow(now):
                raise InferenceUnavailable(
                    f"circuit open after {self.breaker.failures} failures; next trial in "
                    f"{self.breaker.seconds_until_trial(now):.1f} s"
                )
            inputs = [_bytes_input(grpcclient, "TEXT", texts)]
            if targets is not None:
                inputs.append(_bytes_input(grpcclient, "TARGET", targets))
            try:
                async with self._slots:
                    result = await self._client.infer(
                        self.model_name,
                        inputs,
                        outputs=[grpcclient.InferRequestedOutput("PROBS")],
                        client_timeout=self.timeout_s,
                    )
                probs = result.as_numpy("PROBS")
                if probs is None or probs.shape != (len(texts), 3):
                    raise ModelContractError(f"PROBS shape {None if probs is None else probs.shape}")
                self.breaker.record_success()
                return probs.astype(np.float32, copy=False)
            except ModelContractError:
                raise
            except Exception as exc:  # noqa: BLE001 - gRPC errors, timeouts, resets: all transient here
                last = exc
                self.breaker.record_failure(time.monotonic())
                self.retries += 1
                if attempt + 1 < self.attempts:
                    await asyncio.sleep(self.backoff.delay(attempt))
        raise InferenceUnavailable(f"Triton inference failed {self.attempts} times: {last}")


def _bytes_input(grpcclient: Any, name: str, values: list[str]) -> Any:
    tensor = grpcclient.InferInput(name, [len(values), 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[v.encode("utf-8")] for v in values], dtype=np.object_))
    return tensor

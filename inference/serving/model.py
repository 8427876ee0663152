"""Triton python-backend model ``sentiment``: TEXT (bytes) [, TARGET (bytes)] -> PROBS fp32[3] [negative, neutral,
positive].

TARGET is optional: the entity each text is scored toward, where the model reads pairs (an empty target, or none
sent, scores the text as a whole).

Copied into ``<repo>/sentiment/<version>/model.py`` by ``inference.triton_repo``; ``sentiment_runtime.py`` and the
model's files (``artifacts/``) lie beside it. All requests of one dynamic batch are scored in one call, so
Triton's batching across workers turns into one length-sorted pass over the model.
"""

import json
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by the python backend's stub


class TritonPythonModel:
    def initialize(self, args):
        version_dir = Path(args["model_repository"]) / args["model_version"]
        sys.path.insert(0, str(version_dir))
        from sentiment_runtime import SentimentRuntime

        params = json.loads(args["model_config"]).get("parameters", {})

        def param(key, default):
            return params.get(key, {}).get("string_value", default)

        threads = int(param("threads", "0")) or None
        self.runtime = SentimentRuntime(
            version_dir / "artifacts",
            backend=param("backend", "auto"),
            onnx_file=param("onnx_file", "model.onnx"),
            max_length=int(param("max_length", "128")),
            sub_batch=int(param("sub_batch", "4")),
            threads=threads,
        )

    def execute(self, requests):
        per_request, targets = [], []
        for request in requests:
            texts = _strings(pb_utils.get_input_tensor_by_name(request, "TEXT"))
            given = pb_utils.get_input_tensor_by_name(request, "TARGET")
            wanted = _strings(given) if given is not None else []
            per_request.append(texts)
            targets.extend(wanted if len(wanted) == len(texts) else [""] * len(texts))
        try:
            probs = self.runtime.predict([text for texts in per_request for text in texts], targets)
        except Exception as exc:  # noqa: BLE001 - one bad batch answers with an error, never kills the instance
            error = pb_utils.TritonError(f"sentiment model failed: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        responses, start = [], 0
        for texts in per_request:
            chunk = np.ascontiguousarray(probs[start : start + len(texts)], dtype=np.float32)
            start += len(texts)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("PROBS", chunk)]))
        return responses

    def finalize(self):
        self.runtime = None


def _strings(tensor):
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in tensor.as_numpy().reshape(-1)]

"""GPU ensemble step 1 (python backend, on CPU): TEXT [, TARGET] -> input_ids, attention_mask [, token_type_ids]
padded to a fixed length, so the TensorRT engine sees one shape and Triton can batch requests together.

The encoding is the CPU runtime's own (``sentiment_runtime.encode_inputs``, copied beside this file): a pair model's
``targeted.json`` (in ``tokenizer/``) sets the crop around the target and the entity marker, so a (text, target)
pair reads the same on either repository."""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from sentiment_runtime import TARGETED_FILE, encode_inputs


def _strings(request, name):
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        return None
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in tensor.as_numpy().reshape(-1)]


class TritonPythonModel:
    def initialize(self, args):
        from transformers import AutoTokenizer

        here = Path(args["model_repository"]) / args["model_version"]
        params = json.loads(args["model_config"]).get("parameters", {})
        self.max_length = int(params.get("max_length", {}).get("string_value", "128"))
        self.tokenizer = AutoTokenizer.from_pretrained(str(here / "tokenizer"), local_files_only=True)
        targeted = here / "tokenizer" / TARGETED_FILE
        meta = json.loads(targeted.read_text()) if targeted.exists() else {}
        self.pairs = bool(meta.get("pairs"))
        self.max_chars = int(meta.get("max_chars", 100_000))
        self.marker = str(meta.get("marker", ""))
        self.pad_id = int(self.tokenizer.pad_token_id or 0)

    def execute(self, requests):
        responses = []
        for request in requests:
            texts = _strings(request, "TEXT")
            targets = _strings(request, "TARGET") if self.pairs else None
            ids, types = encode_inputs(
                self.tokenizer, texts, targets, max_chars=self.max_chars, max_length=self.max_length, marker=self.marker
            )
            input_ids = np.full((len(ids), self.max_length), self.pad_id, dtype=np.int64)
            segments = np.zeros((len(ids), self.max_length), dtype=np.int64)
            mask = np.zeros((len(ids), self.max_length), dtype=np.int64)
            for row, (tokens, segment) in enumerate(zip(ids, types, strict=True)):
                input_ids[row, : len(tokens)] = tokens
                segments[row, : len(tokens)] = segment
                mask[row, : len(tokens)] = 1
            outputs = [pb_utils.Tensor("input_ids", input_ids), pb_utils.Tensor("attention_mask", mask)]
            if self.pairs:
                outputs.append(pb_utils.Tensor("token_type_ids", segments))
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses

"""GPU ensemble step 1 (python backend, on CPU): TEXT -> input_ids, attention_mask padded to a fixed length,
so the TensorRT engine sees one shape and Triton can batch requests together."""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        from transformers import AutoTokenizer

        here = Path(args["model_repository"]) / args["model_version"]
        params = json.loads(args["model_config"]).get("parameters", {})
        self.max_length = int(params.get("max_length", {}).get("string_value", "128"))
        self.tokenizer = AutoTokenizer.from_pretrained(str(here / "tokenizer"), local_files_only=True)

    def execute(self, requests):
        responses = []
        for request in requests:
            raw = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            texts = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in raw]
            enc = self.tokenizer(
                texts, truncation=True, max_length=self.max_length, padding="max_length", return_tensors="np"
            )
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor("input_ids", enc["input_ids"].astype(np.int64)),
                        pb_utils.Tensor("attention_mask", enc["attention_mask"].astype(np.int64)),
                    ]
                )
            )
        return responses

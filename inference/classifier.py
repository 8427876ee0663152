"""The sentiment classifier's architecture, and the one loader every torch path uses.

all-MiniLM-L6-v2 was trained as a sentence encoder with *mean pooling*: its [CLS] vector and BERT pooler were never
trained for sentence meaning. A linear probe on the frozen encoder shows it (``bench.encoder_probe``: test macro-F1
0.649 on mean-pooled vectors, 0.601 on [CLS], 0.603 on the pooler output), so the head reads the mean of the token
vectors, as the encoder was built to be read. ``transformers`` has no BERT head that pools by mean, hence the small
class below, named in the saved ``config.json`` so that :func:`load_classifier` rebuilds the right module (loading
it through ``AutoModelForSequenceClassification`` would silently attach a random pooler instead).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["MEAN_POOL_ARCHITECTURE", "load_classifier", "mean_pool_class"]

MEAN_POOL_ARCHITECTURE = "BertMeanPoolForSequenceClassification"


def mean_pool_class() -> Any:
    """The mean-pooling BERT classifier (built on first use: torch and transformers are heavy imports)."""
    global _MEAN_POOL_CLASS
    if _MEAN_POOL_CLASS is not None:
        return _MEAN_POOL_CLASS
    import torch
    from transformers import BertModel, BertPreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    class BertMeanPoolForSequenceClassification(BertPreTrainedModel):
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.num_labels = config.num_labels
            self.bert = BertModel(config, add_pooling_layer=False)
            dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
            self.dropout = torch.nn.Dropout(dropout)
            self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
            self.post_init()

        def forward(
            self,
            input_ids: torch.Tensor | None = None,
            attention_mask: torch.Tensor | None = None,
            token_type_ids: torch.Tensor | None = None,
            **_: Any,
        ) -> SequenceClassifierOutput:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            if attention_mask is None:
                pooled = hidden.mean(dim=1)
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)))

    _MEAN_POOL_CLASS = BertMeanPoolForSequenceClassification
    return _MEAN_POOL_CLASS


_MEAN_POOL_CLASS: Any = None


def load_classifier(model_dir: Path, **kwargs: Any) -> Any:
    """Load a saved classifier with the class its ``config.json`` names (mean-pooling or stock BERT)."""
    architectures = json.loads((Path(model_dir) / "config.json").read_text()).get("architectures") or []
    if MEAN_POOL_ARCHITECTURE in architectures:
        return mean_pool_class().from_pretrained(str(model_dir), local_files_only=True, **kwargs)
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(str(model_dir), local_files_only=True, **kwargs)

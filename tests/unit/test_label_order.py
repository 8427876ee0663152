"""The model contract's label order is declared once (``core.domain.Label``) and every place that orders labels
follows it: training and evaluation, the runtime inside Triton, the GPU ensemble's last step, the scored event."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from core.domain import LABELS, Label
from core.events import Sentiment
from inference.labels import LABEL_TO_ID
from inference.runtime import CONTRACT_LABELS, SentimentRuntime
from inference.triton_repo import build_cpu_repository
from inference.triton_repo_gpu import build_gpu_repository

SHUFFLED = {"0": "POSITIVE", "1": "negative", "2": "Neutral"}  # a model trained with its own label ids


def _model_dir(path: Path) -> Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"id2label": SHUFFLED}))
    (path / "model.onnx").write_bytes(b"not a model")
    return path


def test_training_and_the_runtime_use_the_domain_order(tmp_path: Path) -> None:
    assert LABELS == ("negative", "neutral", "positive") == CONTRACT_LABELS
    assert [LABEL_TO_ID[label] for label in LABELS] == [label.position for label in Label] == [0, 1, 2]
    runtime = SimpleNamespace(model_dir=_model_dir(tmp_path / "model"))
    assert SentimentRuntime._label_permutation(runtime) == [1, 2, 0]  # type: ignore[arg-type]


def test_the_runtime_inside_a_repository_reads_the_order_beside_it(tmp_path: Path) -> None:
    """Triton's python backend imports the runtime without the project: the builder writes the order next to it."""
    root, version = build_cpu_repository(_model_dir(tmp_path / "model"), tmp_path / "repo")
    here = root / str(version)
    assert json.loads((here / "contract_labels.json").read_text()) == list(LABELS)
    probe = (
        "import sys; sys.modules['core'] = None; "  # no project on the path, as inside Triton
        f"sys.path.insert(0, {str(here)!r}); import sentiment_runtime; print(list(sentiment_runtime.CONTRACT_LABELS))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=here)
    assert json.loads(out.stdout.replace("'", '"')) == list(LABELS)


def test_the_gpu_ensemble_reorders_into_the_domain_order(tmp_path: Path) -> None:
    out = build_gpu_repository(_model_dir(tmp_path / "export"), tmp_path / "gpu")
    assert json.loads((out / "sentiment_post" / "1" / "label_order.json").read_text()) == [1, 2, 0]


def test_the_scored_event_labels_and_signs_in_the_domain_order() -> None:
    sentiment = Sentiment.of([0.7, 0.2, 0.1])
    assert (sentiment.label, sentiment.score, sentiment.probs) == (Label.NEGATIVE, -0.6, [0.7, 0.2, 0.1])

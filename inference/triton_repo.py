"""Builds Triton model repositories for the ``sentiment`` model of docs/architecture.md.

A repository holds one model directory with a ``config.pbtxt`` and numbered version directories. Each version
carries the python-backend ``model.py``, the runtime module and the model's files, so a repository is
self-contained and can be copied to another machine. A new model source gets the next version number and
Triton serves the latest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from core.domain import LABELS
from inference.runtime import CONTRACT_LABELS_FILE, TARGETED_FILE

__all__ = ["CpuRepositoryOptions", "build_cpu_repository", "fingerprint", "reads_pairs", "render_cpu_config"]

_HERE = Path(__file__).resolve().parent
_MODEL_PY = _HERE / "serving" / "model.py"
_RUNTIME_PY = _HERE / "runtime.py"
_CLASSIFIER_PY = _HERE / "classifier.py"


@dataclass(frozen=True)
class CpuRepositoryOptions:
    model_name: str = "sentiment"
    max_batch_size: int = 64
    max_queue_delay_us: int = 2000
    instances: int = 1
    threads: int = 0  # 0: as many as the machine has
    max_length: int = 128
    sub_batch: int = 4  # measured on 2 CPU cores: int8 486 items/s at 4 vs 277 at 32 (bench/model_throughput)
    backend: str = "auto"  # onnx when model.onnx is present, else torch
    onnx_file: str = "model.onnx"
    pairs: bool = False  # the model reads (target, text) pairs (its targeted.json says so): set from the model


def render_cpu_config(options: CpuRepositoryOptions) -> str:
    """The ``config.pbtxt`` of the CPU (python backend) variant.

    >>> text = render_cpu_config(CpuRepositoryOptions())
    >>> 'max_batch_size: 64' in text and 'TYPE_STRING' in text and 'dims: [ 3 ]' in text
    True
    >>> 'name: "TARGET"' in text and 'optional: true' in text and '"pairs" value: { string_value: "false" }' in text
    True

    ``TARGET`` is optional, so a client of the text-only contract still works; ``pairs`` tells clients whether the
    model reads it (a text-level model ignores it), so they send one row per (text, entity) only where it counts.
    """
    params = {
        "backend": options.backend,
        "onnx_file": options.onnx_file,
        "max_length": str(options.max_length),
        "sub_batch": str(options.sub_batch),
        "threads": str(options.threads),
        "pairs": "true" if options.pairs else "false",
    }
    param_text = "\n".join(f'parameters: {{ key: "{k}" value: {{ string_value: "{v}" }} }}' for k, v in params.items())
    return f"""name: "{options.model_name}"
backend: "python"
max_batch_size: {options.max_batch_size}
input [
  {{ name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] }},
  {{ name: "TARGET" data_type: TYPE_STRING dims: [ 1 ] optional: true }}
]
output [ {{ name: "PROBS" data_type: TYPE_FP32 dims: [ 3 ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: {options.max_queue_delay_us} }}
instance_group [ {{ count: {options.instances} kind: KIND_CPU }} ]
version_policy: {{ latest: {{ num_versions: 1 }} }}
{param_text}
"""


def reads_pairs(model_dir: Path) -> bool:
    """The model was trained on (target, text) pairs (``targeted.json`` beside it says so)."""
    path = Path(model_dir) / TARGETED_FILE
    return path.exists() and bool(json.loads(path.read_text()).get("pairs"))


def fingerprint(model_dir: Path) -> str:
    """A content hash of the model's files plus the serving code, to tell versions apart."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode())
        digest.update(str(path.stat().st_size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    for code in (_MODEL_PY, _RUNTIME_PY, _CLASSIFIER_PY):
        digest.update(code.read_bytes())
    return digest.hexdigest()[:16]


def build_cpu_repository(
    model_dir: Path, repo_dir: Path, options: CpuRepositoryOptions | None = None
) -> tuple[Path, int]:
    """Add ``model_dir`` to the repository as a new version unless the latest already is it.

    Returns the model's directory in the repository and the version served.
    """
    options = replace(options or CpuRepositoryOptions(), pairs=reads_pairs(model_dir))
    model_root = Path(repo_dir) / options.model_name
    model_root.mkdir(parents=True, exist_ok=True)
    stamp = fingerprint(model_dir) + "|" + render_cpu_config(options)
    versions = sorted(int(p.name) for p in model_root.iterdir() if p.is_dir() and p.name.isdigit())
    latest_source = model_root / str(versions[-1]) / "SOURCE" if versions else None
    if latest_source is not None and latest_source.exists() and latest_source.read_text() == stamp:
        (model_root / "config.pbtxt").write_text(render_cpu_config(options))
        return model_root, versions[-1]
    version = (versions[-1] + 1) if versions else 1
    target = model_root / str(version)
    tmp = model_root / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    shutil.copy2(_MODEL_PY, tmp / "model.py")
    shutil.copy2(_RUNTIME_PY, tmp / "sentiment_runtime.py")
    (tmp / CONTRACT_LABELS_FILE).write_text(json.dumps(LABELS))  # the runtime's label order inside Triton
    shutil.copy2(_CLASSIFIER_PY, tmp / "sentiment_classifier.py")
    shutil.copytree(model_dir, tmp / "artifacts", ignore=shutil.ignore_patterns("checkpoint-*", "*.pt"))
    (tmp / "SOURCE").write_text(stamp)
    tmp.rename(target)
    for old in versions:  # Triton serves only the latest; keep one previous version for rollback
        if old < version - 1:
            shutil.rmtree(model_root / str(old), ignore_errors=True)
    (model_root / "config.pbtxt").write_text(render_cpu_config(options))
    return model_root, version

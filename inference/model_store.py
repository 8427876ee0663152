"""Which models the local Triton serves.

``sentiment`` is the best model available: ``RADAR_MODEL_DIR`` if set, else the last export chosen for serving
(``<cache>/models/SERVING``, outside the clone, so a fresh clone serves it too), else the tiny random model.
``sentiment_tiny`` is always the tiny model: tests use it, so they are fast and independent of training.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.settings import Settings

__all__ = ["TINY_MODEL_NAME", "resolve_serving_model", "serving_onnx_file", "set_serving_model", "tiny_model_dir"]

TINY_MODEL_NAME = "sentiment_tiny"


def tiny_model_dir(settings: Settings) -> Path:
    from inference.tiny_model import build_tiny_model

    return build_tiny_model(settings.cache_dir / "models" / "tiny")


def _pointer(settings: Settings) -> Path:
    return settings.cache_dir / "models" / "SERVING"


def set_serving_model(settings: Settings, model_dir: Path, onnx_file: str) -> None:
    (model_dir / "serving.json").write_text(json.dumps({"onnx_file": onnx_file}))
    _pointer(settings).write_text(str(model_dir.resolve()))


def resolve_serving_model(settings: Settings) -> Path:
    if settings.model_dir is not None:
        return settings.model_dir.resolve()
    pointer = _pointer(settings)
    if pointer.exists():
        target = Path(pointer.read_text().strip())
        if (target / "config.json").exists():
            return target
    return tiny_model_dir(settings)


def serving_onnx_file(model_dir: Path) -> str:
    """The ONNX file an export chose to serve (fp32 or int8); ``model.onnx`` otherwise."""
    path = model_dir / "serving.json"
    return str(json.loads(path.read_text())["onnx_file"]) if path.exists() else "model.onnx"

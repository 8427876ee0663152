"""Which models the local Triton serves.

``sentiment`` is the best model available: ``RADAR_MODEL_DIR`` if set, else the last export chosen for serving
(``<cache>/models/SERVING``, outside the clone, so a fresh clone serves it too), else the tiny random model.
``sentiment_tiny`` is always the tiny model: tests use it, so they are fast and independent of training.

``sentiment_zh`` is the Chinese pair model chosen for serving (``<cache>/models/SERVING_ZH``: ``bench.zh_fin`` or
the demo's setup writes it), else ``sentiment_tiny_zh``: a tiny random pair model with the Chinese tokenizer, which
tests serve.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.settings import Settings

__all__ = [
    "TINY_MODEL_NAME",
    "TINY_ZH_MODEL_NAME",
    "chosen_zh_model",
    "en_fin_pointer",
    "resolve_serving_model",
    "resolve_zh_serving_model",
    "serving_onnx_file",
    "set_serving_model",
    "tiny_model_dir",
    "tiny_zh_model_dir",
    "zh_serving_pointer",
]

TINY_MODEL_NAME = "sentiment_tiny"
TINY_ZH_MODEL_NAME = "sentiment_tiny_zh"


def tiny_zh_model_dir(settings: Settings) -> Path:
    from inference.tiny_model import build_tiny_model
    from inference.zh_encoder import zh_encoder_dir

    return build_tiny_model(
        settings.cache_dir / "models" / "tiny-zh",
        tokenizer_dir=zh_encoder_dir(settings.cache_dir),
        vocab_size=21128,
        targeted={"pairs": True, "lang": "zh", "max_length": 128, "max_chars": 150},
    )


def en_fin_pointer(settings: Settings) -> Path:
    """Where ``bench.en_fin`` leaves its English model fine-tuned on financial text (and the VADER sets)."""
    return settings.cache_dir / "models" / "EN_FIN"


def zh_serving_pointer(settings: Settings) -> Path:
    return settings.cache_dir / "models" / "SERVING_ZH"


def chosen_zh_model(settings: Settings) -> Path | None:
    """The Chinese pair model chosen for serving, if one was."""
    pointer = zh_serving_pointer(settings)
    if pointer.exists():
        target = Path(pointer.read_text().strip())
        if (target / "config.json").exists():
            return target
    return None


def resolve_zh_serving_model(settings: Settings) -> Path:
    return chosen_zh_model(settings) or tiny_zh_model_dir(settings)


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

"""Which model the local Triton serves: an explicit ``RADAR_MODEL_DIR``, else the last exported trained model,
else the tiny random model (so a fresh machine has a working, contract-true pipeline within seconds)."""

from __future__ import annotations

from pathlib import Path

from services.settings import Settings

__all__ = ["SERVING_POINTER", "resolve_serving_model", "tiny_model_dir"]

SERVING_POINTER = "models/SERVING"


def tiny_model_dir(settings: Settings) -> Path:
    return settings.var_dir.resolve() / "models" / "tiny"


def resolve_serving_model(settings: Settings) -> Path:
    if settings.model_dir is not None:
        return settings.model_dir.resolve()
    pointer = settings.var_dir.resolve() / SERVING_POINTER
    if pointer.exists():
        target = Path(pointer.read_text().strip())
        if (target / "config.json").exists():
            return target
    from inference.tiny_model import build_tiny_model

    return build_tiny_model(tiny_model_dir(settings))

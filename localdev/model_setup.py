"""Make sure Triton has a trained sentiment model to serve: the last export, else export the English model
fine-tuned on financial text (``bench.en_fin``'s), else the last trained model, else a short first training (one
epoch on the VADER sets, about 6-10 minutes on 2 cores) -- with progress -- and export that."""

from __future__ import annotations

from pathlib import Path

from core.progress import ProgressReporter
from core.settings import Settings
from inference.model_store import en_fin_pointer, set_serving_model

__all__ = ["ensure_serving_model"]


def ensure_serving_model(settings: Settings, report: ProgressReporter, *, epochs: int = 1) -> tuple[Path, str]:
    """Returns the served export directory and how it was obtained."""
    pointer = settings.cache_dir / "models" / "SERVING"
    if pointer.exists() and (Path(pointer.read_text().strip()) / "config.json").exists():
        return Path(pointer.read_text().strip()), "cached export"
    from inference.dataset import current_data_dir, prepare
    from inference.export import export_onnx
    from inference.train import TrainConfig, train

    latest = settings.cache_dir / "models" / "LATEST"
    fin = en_fin_pointer(settings)
    how = "exported the last trained model"
    if fin.exists() and (Path(fin.read_text().strip()) / "training.json").exists():
        model_dir, how = Path(fin.read_text().strip()), "exported the model fine-tuned on financial text"
    elif latest.exists() and (Path(latest.read_text().strip()) / "DONE").exists():
        model_dir = Path(latest.read_text().strip())
    else:
        prepared = prepare(settings.cache_dir)
        result = train(
            current_data_dir(settings.cache_dir),
            prepared.digest,
            settings.cache_dir,
            TrainConfig(epochs=epochs),
            progress=report,
        )
        model_dir = result.model_dir
        latest.write_text(str(model_dir))
        how = f"trained {epochs} epoch(s) in {result.seconds / 60:.1f} min"
    out = settings.cache_dir / "exports" / model_dir.name
    export = export_onnx(model_dir, out)
    set_serving_model(settings, out, export.int8.name)
    return out, how

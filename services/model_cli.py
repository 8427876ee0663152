"""``radar model prepare | train | evaluate | export``: the sentiment model's life cycle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.progress import progress_reporter
from services.settings import Settings

__all__ = ["model_app"]

model_app = typer.Typer(help="Prepare data, fine-tune, evaluate against VADER, export and serve.", no_args_is_help=True)
console = Console()


@model_app.command("prepare")
def prepare_cmd(seed: int = 13, test_fraction: float = 0.2) -> None:
    """Fetch the VADER sdist, label the four human-rated sets, save a seeded stratified split."""
    from inference.dataset import prepare

    prepared = prepare(Settings().cache_dir, seed=seed, test_fraction=test_fraction)
    table = Table(title=f"prepared {prepared.digest} -> {prepared.directory}")
    for column in ("domain/label", "train", "test"):
        table.add_column(column)
    for key in prepared.counts["train"]:
        table.add_row(key, str(prepared.counts["train"][key]), str(prepared.counts["test"].get(key, 0)))
    console.print(table)


@model_app.command("train")
def train_cmd(
    epochs: int = 3,
    max_length: int = 128,
    lr: float = 8e-5,
    batch_size: int = 32,
    class_weight_power: Annotated[float, typer.Option(help="0 none, 1 inverse frequency")] = 0.5,
    seed: int = 13,
    force: bool = False,
) -> None:
    """Fine-tune all-MiniLM-L6-v2 with a 3-class head (cached by data + config; resumes after interruption)."""
    from inference.dataset import current_data_dir, prepare
    from inference.train import TrainConfig, train

    settings = Settings()
    prepared = prepare(settings.cache_dir, seed=seed)
    config = TrainConfig(epochs=epochs, max_length=max_length, lr=lr, batch_size=batch_size,
                         class_weight_power=class_weight_power, seed=seed)  # fmt: skip
    with progress_reporter(console) as report:
        result = train(current_data_dir(settings.cache_dir), prepared.digest, settings.cache_dir, config,
                       force=force, progress=report)  # fmt: skip
    (settings.cache_dir / "models" / "LATEST").write_text(str(result.model_dir))
    how = "cached" if result.cached else "trained"
    console.print(f"{how}: {result.model_dir} ({result.seconds / 60:.1f} min of training)")


def latest_trained_model(settings: Settings) -> Path:
    pointer = settings.cache_dir / "models" / "LATEST"
    if not pointer.exists():
        raise typer.BadParameter("no trained model yet: run `radar model train`")
    return Path(pointer.read_text().strip())

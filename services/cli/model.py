"""``radar model prepare | train | evaluate | export``: the sentiment model's life cycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from core.errors import ConfigError
from core.progress import progress_reporter
from core.settings import Settings
from inference.train import TrainConfig

if TYPE_CHECKING:
    from inference.batch_score import Scorer
    from inference.runtime import SentimentRuntime

__all__ = ["model_app"]

model_app = typer.Typer(help="Prepare data, fine-tune, evaluate against VADER, export and serve.", no_args_is_help=True)
console = Console()
_DEFAULTS = TrainConfig()  # the one place training defaults live


@model_app.command("prepare")
def prepare_cmd() -> None:
    """Fetch the VADER sdist, label the four human-rated sets, save the seeded stratified split.

    The split is fixed (seed 13, 80/20): every later train, evaluate and export uses the same test texts.
    """
    from inference.dataset import prepare

    prepared = prepare(Settings().cache_dir)
    table = Table(title=f"prepared {prepared.digest} -> {prepared.directory}")
    for column in ("domain/label", "train", "test"):
        table.add_column(column)
    for key in prepared.counts["train"]:
        table.add_row(key, str(prepared.counts["train"][key]), str(prepared.counts["test"].get(key, 0)))
    console.print(table)


@model_app.command("train")
def train_cmd(
    epochs: int = _DEFAULTS.epochs,
    max_length: int = _DEFAULTS.max_length,
    lr: float = _DEFAULTS.lr,
    batch_size: int = _DEFAULTS.batch_size,
    class_weight_power: Annotated[
        float, typer.Option(help="0 none, 1 inverse frequency")
    ] = _DEFAULTS.class_weight_power,
    soft_label_sigma: Annotated[
        float, typer.Option(help="0: hard labels; else soft ordinal targets")
    ] = _DEFAULTS.soft_label_sigma,
    val_fraction: Annotated[
        float, typer.Option(help="share of train used to tune class offsets")
    ] = _DEFAULTS.val_fraction,
    tune_offsets: bool = _DEFAULTS.tune_offsets,
    seed: int = _DEFAULTS.seed,
    pooling: Annotated[str, typer.Option(help="mean: mean of token vectors; cls: BERT's pooler")] = _DEFAULTS.pooling,
    layer_decay: Annotated[
        float, typer.Option(help="learning-rate factor per layer down from the top")
    ] = _DEFAULTS.layer_decay,
    train_fraction: Annotated[
        float, typer.Option(help="share of the training texts to use (data-scaling studies)")
    ] = _DEFAULTS.train_fraction,
    force: bool = False,
) -> None:
    """Fine-tune all-MiniLM-L6-v2 with a 3-class head (cached by data + config; resumes after interruption)."""
    from inference.dataset import current_data_dir, prepare
    from inference.train import train

    settings = Settings()
    prepared = prepare(settings.cache_dir)  # the fixed split: --seed only seeds training, never the test texts
    config = TrainConfig(
        epochs=epochs,
        max_length=max_length,
        lr=lr,
        batch_size=batch_size,
        class_weight_power=class_weight_power,
        soft_label_sigma=soft_label_sigma,
        val_fraction=val_fraction,
        tune_offsets=tune_offsets,
        seed=seed,
        pooling=pooling,
        layer_decay=layer_decay,
        train_fraction=train_fraction,
    )
    data_dir = current_data_dir(settings.cache_dir)
    with progress_reporter(console) as report:
        result = train(data_dir, prepared.digest, settings.cache_dir, config, force=force, progress=report)
    (settings.cache_dir / "models" / "LATEST").write_text(str(result.model_dir))
    how = "cached" if result.cached else "trained"
    console.print(f"{how}: {result.model_dir} ({result.seconds / 60:.1f} min of training)")


def latest_trained_model(settings: Settings) -> Path:
    pointer = settings.cache_dir / "models" / "LATEST"
    if not pointer.exists():
        raise ConfigError("no trained model yet: run `radar model train`")
    return Path(pointer.read_text().strip())


def _test_split(settings: Settings):
    from inference.dataset import current_data_dir, load_split, prepare

    prepare(settings.cache_dir)
    return load_split(current_data_dir(settings.cache_dir), "test")


@model_app.command("evaluate")
def evaluate_cmd(
    report: Annotated[Path, typer.Option(help="directory for report.json, report.md, report.png")] = Path(
        "reports/eval"
    ),
    model: Annotated[Path | None, typer.Option(help="model directory (default: the last trained)")] = None,
    backend: Annotated[str, typer.Option(help="torch, onnx or auto")] = "torch",
    onnx_file: str = "model.onnx",
    zh_fin_neg: Annotated[
        Path | None,
        typer.Option(
            envvar="ZH_FIN_NEG_DIR",
            file_okay=False,
            help="zh-fin-neg folder: also score the served Chinese model on its held-out split, beside the baseline",
        ),
    ] = None,
    en_fin_tweets: Annotated[
        Path | None,
        typer.Option(
            envvar="EN_FIN_TWEETS_DIR",
            file_okay=False,
            help="en-fin-tweets folder: also score the model on the financial tweets' valid split, beside VADER",
        ),
    ] = None,
) -> None:
    """Accuracy and macro-F1 per domain and overall, side by side with VADER on the same test split; with the
    financial data, per language too (Chinese: entity- and text-level F1 of the served ``sentiment_zh`` beside
    a character TF-IDF baseline; English financial tweets: macro-F1 beside VADER)."""
    from inference.evaluate import evaluate_predictions, predict_labels, vader_labels, write_report
    from inference.runtime import SentimentRuntime

    settings = Settings()
    model_dir = model or latest_trained_model(settings)
    examples = _test_split(settings)
    texts = [e.text for e in examples]
    runtime = SentimentRuntime(model_dir, backend=backend, onnx_file=onnx_file)
    with console.status(f"scoring {len(texts)} test texts with the model and with VADER…"):
        systems = {"model": predict_labels(runtime.predict, texts), "vader": vader_labels(texts)}
    figures = evaluate_predictions(examples, systems)
    meta = {"model": str(model_dir), "backend": runtime.backend, "test_examples": len(examples)}
    training = model_dir / "training.json"
    history = json.loads(training.read_text()).get("history") if training.exists() else None
    paths = write_report(figures, report, meta=meta, history=history)
    console.print(paths["md"].read_text())
    financial = _financial_figures(settings, model_dir, zh_fin_neg, en_fin_tweets)
    if financial:
        (report / "financial.json").write_text(json.dumps(financial, indent=2, ensure_ascii=False))
        paths["financial"] = report / "financial.json"
    console.print(f"report: {', '.join(str(p) for p in paths.values())}")


def _financial_figures(
    settings: Settings, model_dir: Path, zh_fin_neg: Path | None, en_fin_tweets: Path | None
) -> dict[str, object]:
    """Per language and domain, beside a baseline, where the data is given; a table of each."""
    from inference.fin_data import read_fin_tweets, read_zh_fin_neg, split_rows
    from inference.fin_eval import fin_tweet_figures, model_judgements, score_entities, tfidf_entity_baseline
    from inference.model_store import resolve_zh_serving_model, serving_onnx_file

    out: dict[str, object] = {}
    if zh_fin_neg is not None:
        zh_model = resolve_zh_serving_model(settings)
        onnx = serving_onnx_file(zh_model) if (zh_model / "serving.json").exists() else None
        train, test = split_rows(read_zh_fin_neg(zh_fin_neg))
        with console.status(f"zh-fin-neg: {len(test)} held-out texts, the served Chinese model and the baseline…"):
            zh: dict[str, Any] = {
                "model": str(zh_model),
                "held_out_texts": len(test),
                "baseline": score_entities(test, tfidf_entity_baseline(train, test)),
                "served": score_entities(test, model_judgements(zh_model, test, None, onnx_file=onnx)),
            }
        table = Table(title=f"zh-fin-neg, {len(test)} held-out texts ({zh_model.name})")
        for column in ("measure", "char 1-3-gram TF-IDF + LR", "served sentiment_zh"):
            table.add_column(column)
        for measure in ("entity_f1", "text_f1"):
            table.add_row(measure, f"{zh['baseline'][measure]:.3f}", f"{zh['served'][measure]:.3f}")
        console.print(table)
        out["zh_fin_neg"] = zh
    if en_fin_tweets is not None:
        valid = read_fin_tweets(en_fin_tweets, "valid")
        with console.status(f"financial tweets: {len(valid)} valid texts, the model and VADER…"):
            en = fin_tweet_figures(model_dir, valid)
        table = Table(title=f"en-fin-tweets, valid split, {len(valid)} texts ({model_dir.name})")
        for column in ("measure", "VADER", "model"):
            table.add_column(column)
        table.add_row("macro-F1", f"{en['vader_macro_f1']:.3f}", f"{en['model_macro_f1']:.3f}")
        console.print(table)
        out["en_fin_tweets"] = en
    return out


def _score_variants(runtimes: dict[str, SentimentRuntime], texts: list[str]) -> dict[str, np.ndarray]:
    """Each runtime's class probabilities for ``texts``, scored 64 at a time with a progress bar per variant."""
    probs = {}
    with progress_reporter(console) as report:
        for name, runtime in runtimes.items():
            chunks = []
            for start in range(0, len(texts), 64):
                chunks.append(runtime.predict(texts[start : start + 64]))
                report(name, min(start + 64, len(texts)), len(texts))
            probs[name] = np.concatenate(chunks)
    return probs


def _parity_table(probs: dict[str, np.ndarray], truth: list[str], title: str) -> Table:
    """Each variant against torch fp32 (label agreement, largest probability gap) and its macro-F1 on the truth."""
    from inference.export import parity
    from inference.labels import LABELS
    from inference.metrics import macro_f1

    table = Table(title=title)
    for column in ("variant", "label agreement vs torch", "max |Δp| vs torch", "macro-F1"):
        table.add_column(column)
    for name, values in probs.items():
        check = parity(probs["torch fp32"], values)
        predicted = [LABELS[i] for i in values.argmax(axis=1)]
        table.add_row(
            name, f"{check.label_agreement:.4f}", f"{check.max_prob_diff:.4f}", f"{macro_f1(truth, predicted):.4f}"
        )
    return table


@model_app.command("export")
def export_cmd(
    model: Annotated[Path | None, typer.Option(help="model directory (default: the last trained)")] = None,
    serve: Annotated[str, typer.Option(help="which ONNX Triton serves: fp32 or int8")] = "int8",
    restart_triton: bool = True,
) -> None:
    """ONNX fp32 + int8 (dynamic quantisation), parity against torch, and serve it on the local Triton."""
    from inference.export import export_onnx
    from inference.model_store import set_serving_model
    from inference.runtime import SentimentRuntime

    settings = Settings()
    model_dir = model or latest_trained_model(settings)
    out_dir = settings.cache_dir / "exports" / model_dir.name
    with console.status("exporting to ONNX and quantising to int8…"):
        result = export_onnx(model_dir, out_dir)
    examples = _test_split(settings)
    runtimes = {
        "torch fp32": SentimentRuntime(out_dir, backend="torch"),
        "onnx fp32": SentimentRuntime(out_dir, backend="onnx", onnx_file=result.fp32.name),
        "onnx int8": SentimentRuntime(out_dir, backend="onnx", onnx_file=result.int8.name),
    }
    probs = _score_variants(runtimes, [e.text for e in examples])
    title = f"export parity on {len(examples)} test texts -> {out_dir}"
    console.print(_parity_table(probs, [e.label for e in examples], title))
    chosen = result.int8.name if serve == "int8" else result.fp32.name
    set_serving_model(settings, out_dir, chosen)
    console.print(f"Triton's `sentiment` now serves {out_dir / chosen}")
    if restart_triton:
        from localdev.stack.triton import TritonService

        TritonService(settings).restart()
        console.print("triton restarted with the new model version")


@model_app.command("gpu-repo")
def gpu_repo_cmd(
    out: Annotated[Path, typer.Argument(help="where to write the model repository")] = Path("deploy/triton/gpu-models"),
    export: Annotated[
        Path | None, typer.Option(help="English export directory (default: the one Triton serves)")
    ] = None,
    zh_export: Annotated[
        Path | None, typer.Option(help="Chinese pair model export (default: the one chosen for serving, if any)")
    ] = None,
) -> None:
    """Build the production GPU repository: an ensemble per language (tokenizer -> ONNX Runtime + TensorRT fp16 ->
    softmax), ``sentiment`` and, where a Chinese model was chosen, ``sentiment_zh`` (it takes TARGET)."""
    from inference.model_store import resolve_serving_model
    from inference.triton_repo_gpu import build_gpu_repository

    settings = Settings()
    source = export or resolve_serving_model(settings)
    chinese = zh_export or _zh_model(settings)
    for folder in (source, chinese):
        if folder is not None and not (folder / "model.onnx").exists():
            raise ConfigError(f"{folder} has no model.onnx: run `radar model export` first")
    build_gpu_repository(source, out, name=settings.model_name)
    built = [settings.model_name]
    if chinese is not None:
        build_gpu_repository(chinese, out, name=settings.model_name_zh, clean=False)
        built.append(settings.model_name_zh)
    console.print(f"GPU model repository: {out} ({', '.join(built)})")


def _zh_model(settings: Settings) -> Path | None:
    """The Chinese pair model chosen for serving (``<cache>/models/SERVING_ZH``, written by ``bench.zh_fin``)."""
    from inference.model_store import chosen_zh_model

    return chosen_zh_model(settings)


@model_app.command("score")
def score_cmd(
    input: Annotated[
        Path, typer.Option("--input", "-i", exists=True, dir_okay=False, help="CSV: id, text[, entity][, lang]")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV: the input columns + probabilities, lang, model")],
    model: Annotated[Path | None, typer.Option(help="English model directory (default: the one Triton serves)")] = None,
    zh_model: Annotated[Path | None, typer.Option(help="Chinese pair model directory (default: SERVING_ZH)")] = None,
) -> None:
    """Score a CSV offline with the runtime Triton serves: each row by its language's model, toward its entity."""
    import csv

    from inference.batch_score import OUTPUT_COLUMNS, score_rows
    from inference.model_store import resolve_serving_model, serving_onnx_file
    from inference.runtime import SentimentRuntime

    settings = Settings()
    with input.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        if "text" not in columns:
            raise typer.BadParameter(f"{input} has no 'text' column (columns: {columns})", param_hint="--input")
        rows = list(reader)
    english = model or resolve_serving_model(settings)
    scorers = {"en": _scorer(SentimentRuntime(english, onnx_file=serving_onnx_file(english)), english)}
    chinese = zh_model or _zh_model(settings)
    if chinese is not None:
        scorers["zh"] = _scorer(SentimentRuntime(chinese, backend="torch"), chinese)
    with console.status(f"scoring {len(rows)} rows…"):
        scored = score_rows(rows, scorers)
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*columns, *(c for c in OUTPUT_COLUMNS if c not in columns)])
        writer.writeheader()
        writer.writerows(scored)
    errors = sum(1 for r in scored if r["error"])
    used = ", ".join(f"{lang}: {s.label}" for lang, s in scorers.items())
    console.print(f"{len(scored)} rows -> {output} ({errors} with an error); models {used}")


def _scorer(runtime: SentimentRuntime, folder: Path) -> Scorer:
    from inference.batch_score import Scorer

    return Scorer(folder.name, runtime.predict)

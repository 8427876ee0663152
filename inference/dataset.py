"""The labelled data: the four human-rated snippet sets shipped inside the ``vaderSentiment==3.3.2`` sdist.

Each set gives a snippet's mean rating on -4..4 by about 20 raters. Three classes on that mean:
``negative < -0.5 <= neutral <= 0.5 < positive`` (the +-0.5 band is the same one VADER's authors use to call a
snippet neutral). The split is stratified by (domain, label), seeded, and saved once, so every later run --
training, evaluation, the VADER comparison, the replay scenarios -- sees exactly the same test texts.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import ConfigError

__all__ = [
    "DOMAINS",
    "Example",
    "PreparedData",
    "current_data_dir",
    "fetch_sdist",
    "fetch_vader_sdist",
    "label_for_rating",
    "load_split",
    "parse_rater_ratings",
    "parse_sdist",
    "prepare",
    "stratified_split",
]

VADER_SDIST = "vaderSentiment==3.3.2"
DOMAINS = {
    "tweets": "tweets_GroundTruth.txt",
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
NEUTRAL_BAND = 0.5


@dataclass(frozen=True)
class Example:
    id: str
    domain: str
    text: str
    rating: float
    label: str


@dataclass(frozen=True)
class PreparedData:
    directory: Path
    digest: str
    counts: dict[str, dict[str, int]]


def label_for_rating(rating: float) -> str:
    """Three classes on the mean rating (-4..4).

    >>> [label_for_rating(x) for x in (-0.51, -0.5, 0.0, 0.5, 0.51)]
    ['negative', 'neutral', 'neutral', 'neutral', 'positive']
    """
    if rating < -NEUTRAL_BAND:
        return "negative"
    if rating > NEUTRAL_BAND:
        return "positive"
    return "neutral"


def fetch_sdist(cache_dir: Path, requirement: str) -> Path:
    """``pip download --no-deps --no-binary :all: NAME==VERSION`` into the cache (once): data shipped in an sdist."""
    name, _, version = requirement.partition("==")
    target = cache_dir / "downloads"
    pattern = f"{name}-{version}.tar.gz"
    found = sorted(target.glob(pattern))
    if found:
        return found[0]
    target.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "-d",
        str(target),
        requirement,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = sorted(target.glob(pattern))
    if result.returncode != 0 or not found:
        raise ConfigError(f"pip download {requirement} failed: {result.stderr[-1500:]}")
    return found[0]


def fetch_vader_sdist(cache_dir: Path) -> Path:
    """The ``vaderSentiment==3.3.2`` sdist, which holds the human-rated snippet sets."""
    return fetch_sdist(cache_dir, VADER_SDIST)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_sdist(sdist: Path) -> list[Example]:
    """Read the four ground-truth files out of the nested ``hutto_ICWSM_2014.tar.gz`` inside the sdist."""
    with tarfile.open(sdist) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        inner_bytes = outer.extractfile(member).read()  # type: ignore[union-attr]
    examples: list[Example] = []
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        files = {Path(m.name).name: m for m in inner.getmembers()}
        for domain, name in DOMAINS.items():
            text = _decode(inner.extractfile(files[name]).read())  # type: ignore[union-attr]
            examples.extend(_parse_lines(domain, text.splitlines()))
    return examples


def parse_rater_ratings(sdist: Path) -> dict[str, list[float]]:
    """Every rater's score per snippet (id as in :class:`Example`), from the ``*_anonDataRatings.txt`` files.

    The labels are means of these panels; their spread says how noisy a label is (see ``bench.label_ceiling``).
    """
    with tarfile.open(sdist) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        inner_bytes = outer.extractfile(member).read()  # type: ignore[union-attr]
    ratings: dict[str, list[float]] = {}
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        files = {Path(m.name).name: m for m in inner.getmembers()}
        for domain, name in DOMAINS.items():
            raw = inner.extractfile(files[name.replace("GroundTruth", "anonDataRatings")]).read()  # type: ignore[union-attr]
            for line in _decode(raw).lstrip("\ufeff").splitlines():
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) >= 4 and parts[3].strip().startswith("["):
                    ratings[f"{domain}-{parts[0].strip()}"] = [float(x) for x in parts[3].strip(" []").split(",")]
    return ratings


def _parse_lines(domain: str, lines: Iterable[str]) -> list[Example]:
    out = []
    for line in lines:
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) < 3 or not parts[2].strip():
            continue
        rating = float(parts[1])
        out.append(Example(f"{domain}-{parts[0]}", domain, parts[2].strip(), rating, label_for_rating(rating)))
    return out


def stratified_split(
    examples: list[Example], *, test_fraction: float = 0.2, seed: int = 13
) -> tuple[list[Example], list[Example]]:
    """Per (domain, label) stratum, a seeded shuffle and a ``test_fraction`` cut.

    >>> data = [Example(str(i), "d", "t", 0.0, "neutral") for i in range(10)]
    >>> train, test = stratified_split(data, test_fraction=0.2, seed=1)
    >>> len(train), len(test), sorted(e.id for e in train + test) == sorted(e.id for e in data)
    (8, 2, True)
    """
    strata: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for example in examples:
        strata[(example.domain, example.label)].append(example)
    rng = random.Random(seed)
    train: list[Example] = []
    test: list[Example] = []
    for key in sorted(strata):
        group = sorted(strata[key], key=lambda e: e.id)
        rng.shuffle(group)
        cut = round(len(group) * test_fraction)
        test.extend(group[:cut])
        train.extend(group[cut:])
    return train, test


def prepare(cache_dir: Path, *, seed: int = 13, test_fraction: float = 0.2) -> PreparedData:
    """Parse, label and split once; the directory name is the content digest, so reruns reuse it."""
    examples = parse_sdist(fetch_vader_sdist(cache_dir))
    train, test = stratified_split(examples, test_fraction=test_fraction, seed=seed)
    payload = {
        "train": [asdict(e) for e in train],
        "test": [asdict(e) for e in test],
    }
    blob = json.dumps(payload, sort_keys=True).encode()
    digest = hashlib.sha256(blob + f"{seed}:{test_fraction}:{NEUTRAL_BAND}".encode()).hexdigest()[:12]
    directory = cache_dir / "data" / f"sentiment-{digest}"
    counts = {
        split: {f"{d}/{lab}": n for (d, lab), n in sorted(Counter((e.domain, e.label) for e in rows).items())}
        for split, rows in (("train", train), ("test", test))
    }
    if not (directory / "manifest.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        for split, rows in (("train", train), ("test", test)):
            with (directory / f"{split}.jsonl").open("w") as handle:
                for example in rows:
                    handle.write(json.dumps(asdict(example), ensure_ascii=False) + "\n")
        manifest = {
            "digest": digest,
            "seed": seed,
            "test_fraction": test_fraction,
            "neutral_band": NEUTRAL_BAND,
            "source": VADER_SDIST,
            "counts": counts,
        }
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (cache_dir / "data" / "CURRENT").write_text(str(directory))
    return PreparedData(directory, digest, counts)


def load_split(directory: Path, split: str) -> list[Example]:
    path = directory / f"{split}.jsonl"
    if not path.exists():
        raise ConfigError(f"{path} missing: run `radar model prepare` first")
    with path.open() as handle:
        return [Example(**json.loads(line)) for line in handle]


def current_data_dir(cache_dir: Path) -> Path:
    pointer = cache_dir / "data" / "CURRENT"
    if not pointer.exists():
        raise ConfigError("no prepared data: run `radar model prepare` first")
    return Path(pointer.read_text().strip())

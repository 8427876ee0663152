"""Every exception the project defines is in the one tree under ``core.errors.RadarError`` (so callers catch by
category, e.g. ``DeliveryError``, without importing the service that raises it)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "services", "stream", "storage", "inference", "localdev")


def _exception_classes() -> list[tuple[str, str]]:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id in _KNOWN)
                    for b in node.bases
                ):
                    found.append((module, node.name))
    return found


_KNOWN = {"RadarError", "TargetRefused", "Undeliverable", "InferenceError", "StorageError", "EventError"}


def test_every_exception_derives_from_radar_error() -> None:
    from core.errors import RadarError

    classes = _exception_classes()
    assert len(classes) >= 15, classes
    outside = [
        f"{module}.{name}"
        for module, name in classes
        if not issubclass(getattr(importlib.import_module(module), name), RadarError)
    ]
    assert outside == []


def test_the_services_errors_sit_in_their_category() -> None:
    from core.errors import BrokerUnavailable, DeliveryError, EventError, RequestError
    from services.api.publish import KafkaUnavailable
    from services.api.records import TooManyRecords
    from services.webhooks.sender import Undeliverable
    from services.webhooks.transport import TargetRefused

    assert issubclass(KafkaUnavailable, BrokerUnavailable) and issubclass(TooManyRecords, RequestError)
    assert issubclass(TargetRefused, DeliveryError) and issubclass(Undeliverable, DeliveryError)
    assert not issubclass(TooManyRecords, EventError)

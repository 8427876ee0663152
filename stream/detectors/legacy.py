"""Detector states stored by releases before the detector seam (issue 22), read into today's layout.

Those states have no ``version``: the three detectors' states under fixed keys, the windowed detectors' alert
policies apart, and (since issue 16) each detector's open alerts. Today's built-in detectors keep the same pieces
(their state version 1), so the state reads losslessly: a worker upgraded mid-episode resolves its alerts as the
old one would have, and the detectors added since start fresh.
"""

from __future__ import annotations

from typing import Any

from core.domain import DetectorName

__all__ = ["LEGACY_VERSION", "upgrade"]

LEGACY_VERSION = 1  # what a state without "version" is


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A version-1 state (the previous layout) in the layout of version 2.

    >>> old = {"volume": {"series": {}}, "sentiment": {"recent": []}, "negative": {"recent": []}, "last_minute": 9,
    ...        "policies": {"sentiment_shift": {"active": True}, "negative_surge": {"active": False}}}
    >>> new = upgrade(old)
    >>> new["version"], new["last_minute"], list(new["detectors"])
    (2, 9, ['volume_spike', 'sentiment_shift', 'negative_surge'])
    >>> new["detectors"]["sentiment_shift"]
    {'version': 1, 'state': {'signal': {'recent': []}, 'policy': {'active': True}}, 'open_alerts': None}
    """
    open_alerts = state.get("open_alerts") or {}  # absent from states stored before the alert lifecycle
    policies = state["policies"]
    pieces = {
        DetectorName.VOLUME_SPIKE: state["volume"],
        DetectorName.SENTIMENT_SHIFT: {"signal": state["sentiment"], "policy": policies["sentiment_shift"]},
        DetectorName.NEGATIVE_SURGE: {"signal": state["negative"], "policy": policies["negative_surge"]},
    }
    return {
        "version": 2,
        "last_minute": state["last_minute"],
        "detectors": {
            name.value: {"version": 1, "state": piece, "open_alerts": open_alerts.get(name.value)}
            for name, piece in pieces.items()
        },
    }

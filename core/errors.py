"""The one exception tree of Opinion Radar, grouped by layer; callers catch by category.

RadarError
├── ConfigError              settings that cannot work (bad URL, missing file)
├── StackError               a local service failed to install, start or become ready
├── EventError               a raw record that breaks the event contract (goes to the dead-letter topic)
├── RequestError             an HTTP request refused whole (too many records): nothing of it is produced
├── BrokerUnavailable        Kafka did not take the records in time (retry later)
├── InferenceError
│   ├── ModelContractError   the served model does not match docs/architecture.md's contract
│   └── InferenceUnavailable Triton cannot be reached or keeps failing (retry later, never drop)
├── StorageError             Redis or SQL failed
├── NotFound                 a named thing (alert, subscription, entity) does not exist
├── Conflict                 the thing exists, or is in a state that refuses the change
└── DeliveryError            a webhook delivery failed or cannot be made
    ├── TargetRefused        (services.webhooks.transport) the connection is not allowed or not made
    └── Undeliverable        (services.webhooks.sender) the subscription as it stands cannot be sent to

Where the error belongs to one service (the API's, the dispatcher's), its class lives there and derives from its
category here, so a caller catches ``DeliveryError`` or ``RadarError`` without importing the service.
"""

from __future__ import annotations

__all__ = [
    "BrokerUnavailable",
    "ConfigError",
    "Conflict",
    "DeliveryError",
    "EventError",
    "InferenceError",
    "InferenceUnavailable",
    "ModelContractError",
    "NotFound",
    "RadarError",
    "RequestError",
    "StackError",
    "StorageError",
]


class RadarError(Exception):
    """Base of every error Opinion Radar raises on purpose."""


class ConfigError(RadarError):
    pass


class StackError(RadarError):
    """A local service could not be brought up; carries the service name and its log's tail."""

    def __init__(self, service: str, message: str, log_tail: str = "") -> None:
        self.service = service
        self.log_tail = log_tail
        text = f"{service}: {message}"
        if log_tail:
            text += f"\n--- last lines of the {service} log ---\n{log_tail}"
        super().__init__(text)


class EventError(RadarError):
    """A record that is not a valid raw event; ``reason`` is what the dead-letter envelope and the API's answer
    record. A reason may quote the hostile part (a key with a lone surrogate): it is kept sendable, escaped."""

    def __init__(self, reason: str) -> None:
        self.reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(self.reason)


class InferenceError(RadarError):
    pass


class ModelContractError(InferenceError):
    pass


class InferenceUnavailable(InferenceError):
    pass


class StorageError(RadarError):
    pass


class DeliveryError(RadarError):
    pass


class RequestError(RadarError):
    pass


class BrokerUnavailable(RadarError):
    pass


class NotFound(RadarError):
    pass


class Conflict(RadarError):
    pass

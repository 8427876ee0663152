"""The tests use the product's own webhook receiver (services/webhooks/receiver.py)."""

from services.webhooks.receiver import Receiver, running_receiver

__all__ = ["Receiver", "running_receiver"]

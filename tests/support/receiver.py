"""The tests use the product's own webhook receiver (localdev/receiver.py)."""

from localdev.receiver import Receiver, running_receiver

__all__ = ["Receiver", "running_receiver"]

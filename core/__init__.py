"""The bottom layer: settings, the exception tree and the domain types every other package builds on.

Imports run one way only: ``services -> stream -> inference, storage -> core`` (tests/unit/test_layers.py).
"""

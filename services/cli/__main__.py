"""``python -m services.cli``: the same as the ``radar`` script (tests start workers this way)."""

from services.cli import main

main()

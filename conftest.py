"""Root pytest configuration: doctests run over the packages; files that only import inside Triton are skipped."""

collect_ignore = ["inference/serving", "storage/migrations", "tests/support", "var", ".venv"]

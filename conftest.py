"""Root pytest configuration: doctests run over the packages; files that only import inside Triton are skipped."""

collect_ignore = ["inference/serving/model.py", "tests/support", "var", ".venv"]

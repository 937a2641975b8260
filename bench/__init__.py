"""Benchmarks of the UNCOPS Platform: ``make bench`` (``python -m bench.run``) writes BENCHMARKS.md."""

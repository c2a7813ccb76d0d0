"""Benchmarks, run from the repository root as modules: `python -m benchmarks.NAME`.

Results go to `benchmarks/results/` and are reported in BENCHMARKS.md with their command.
"""

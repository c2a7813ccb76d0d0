"""Prometheus metrics: per-process counters, database-backed gauges, and their endpoints.

An empty PROMETHEUS_MULTIPROC_DIR means "not set" here, as it does for every setting
(`Settings.to_env` writes an unset one as empty, and so does a `.env` line with no value).
prometheus-client decides at its import whether values live in memory or in per-process
files, and (0.26, at least) it takes the variable's mere presence for a directory: an empty one
left a counter and a histogram file per process in the working directory (the repository,
under `benchmarks.ingest`). So it is dropped before that import.
"""

import os

if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]

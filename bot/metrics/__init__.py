"""Prometheus metrics: per-process counters, database-backed gauges, and their endpoints."""

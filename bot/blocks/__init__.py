"""Block Kit builders: pure functions from plain values to Slack message dicts."""

"""Jobs hand data to the outbox: they load no Slack package and none of the view layer."""

from __future__ import annotations

from tests.layers import modules_loaded_by, within


def test_jobs_import_no_slack_package_and_no_blocks() -> None:
    loaded = modules_loaded_by("jobs")
    forbidden = ("slack_sdk", "slack_bolt", "bot.blocks", "bot.listeners", "bot.api")
    assert within(loaded, *forbidden, "bot.delivery") == []

"""Inside `bot`: services speak data and know nothing of Slack; listener kinds stand apart."""

from __future__ import annotations

import pytest

from tests.layers import REPO_ROOT, modules_loaded_by, within, written_imports

LISTENERS = REPO_ROOT / "bot" / "listeners"
KINDS = sorted(p.name for p in LISTENERS.iterdir() if (p / "__init__.py").exists())


def test_services_import_no_slack_package_and_no_view_or_surface() -> None:
    loaded = modules_loaded_by("bot.services")
    surfaces = ("bot.blocks", "bot.listeners", "bot.api", "bot.delivery", "bot.cli", "jobs")
    assert within(loaded, "slack_sdk", "slack_bolt", *surfaces) == []


def test_blocks_are_pure_builders() -> None:
    """Block Kit builders turn service data into messages; they reach no database or client."""
    loaded = modules_loaded_by("bot.blocks")
    assert within(loaded, "slack_sdk", "slack_bolt", "bot.listeners", "bot.delivery") == []


@pytest.mark.parametrize("kind", KINDS)
def test_listener_kinds_do_not_import_each_other(kind: str) -> None:
    others = [f"bot.listeners.{other}" for other in KINDS if other != kind]
    offending = {
        str(path.relative_to(REPO_ROOT)): within(written_imports(path), *others)
        for path in sorted((LISTENERS / kind).glob("*.py"))
    }
    assert {path: found for path, found in offending.items() if found} == {}


def test_there_are_listener_kinds_to_check() -> None:
    assert {"actions", "commands", "events", "options"} <= set(KINDS)

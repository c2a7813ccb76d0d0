"""The classifier is the innermost layer: it loads nothing of the database, Slack or the app."""

from __future__ import annotations

import classifier
from tests.layers import modules_loaded_by, within


def test_classifier_imports_no_database_slack_or_app_packages() -> None:
    loaded = modules_loaded_by("classifier")
    assert within(loaded, "sqlalchemy", "slack_sdk", "slack_bolt", "bot", "storage", "jobs") == []


def test_public_names_are_exported() -> None:
    for name in classifier.__all__:
        assert getattr(classifier, name) is not None

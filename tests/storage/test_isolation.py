"""Storage sits under the app: it loads nothing of `bot` or `jobs`, and no Slack package."""

from __future__ import annotations

from tests.layers import modules_loaded_by, within


def test_storage_imports_no_app_or_slack_package() -> None:
    # Migrations run inside Alembic's context; their modules are plain SQL and tested apart.
    loaded = modules_loaded_by("storage", skip=("storage.migrations",))
    assert within(loaded, "bot", "jobs", "slack_sdk", "slack_bolt") == []


def test_storage_does_not_load_the_model_stack() -> None:
    """Only the classifier's plain enums and error base: no numpy, scikit-learn or spaCy."""
    loaded = modules_loaded_by("storage", skip=("storage.migrations",))
    assert within(loaded, "numpy", "sklearn", "spacy", "scipy") == []

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import classifier

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, sys
import classifier
for module in pkgutil.iter_modules(classifier.__path__):
    importlib.import_module("classifier." + module.name)
for name in classifier.__all__:
    getattr(classifier, name)
forbidden = [m for m in sys.modules if m.split(".")[0] in
             {"sqlalchemy", "slack_sdk", "slack_bolt", "bot", "storage", "jobs"}]
print(",".join(sorted(forbidden)))
"""


def test_classifier_imports_no_database_slack_or_app_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == ""


def test_public_names_are_exported() -> None:
    for name in classifier.__all__:
        assert getattr(classifier, name) is not None

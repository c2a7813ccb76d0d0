"""Browser fixtures: Debian's Chromium driven by Playwright, and a running sandbox.

Chromium cannot be downloaded here, so Playwright drives the system one. Without it these
tests skip, naming what is missing, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.runner import Sandbox
from bot.services.policy import AUDIT_RATE, THRESHOLD
from classifier import TrainedModel
from tests.bot.conftest import set_policy, trained  # noqa: F401 - a session fixture
from tests.sandbox.driver import SlackPage
from tests.sandbox.harness import CHROMIUM_FLAGS, chromium_path, running_sandbox


def missing(reason: str) -> None:
    """Skip outside CI; under CI a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (Playwright's loop stays out of other modules)."""
    path = chromium_path()
    if path is None:
        missing("Chromium is not installed (apt-get install chromium chromium-driver)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
    trained: TrainedModel,  # noqa: F811
) -> Iterator[tuple[Sandbox, sessionmaker[Session]]]:
    """The sandbox shared by a module's tests (each test finds its own tickets by text)."""
    with running_sandbox(tmp_path_factory.mktemp("sandbox"), trained) as running:
        yield running


@pytest.fixture
def slack(browser: Any, sandbox: tuple[Sandbox, sessionmaker[Session]]) -> Iterator[SlackPage]:
    """A fresh browser tab on the sandbox page; every ticket goes to review, no audits."""
    running, factory = sandbox
    set_policy(factory, THRESHOLD, 1.0)
    set_policy(factory, AUDIT_RATE, 0.0)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield SlackPage(page, running, factory)
    context.close()
    assert not errors, f"the page raised: {errors}"

"""Browser fixtures: Debian's Chromium driven by Playwright, and a running sandbox.

Chromium cannot be downloaded here, so Playwright drives the system one. Without it these
tests skip, naming what is missing, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.runner import SETTING_DEFAULTS, Sandbox
from bot.services.importing import import_labelled_csv
from bot.services.policy import AUDIT_RATE, THRESHOLD
from bot.settings import Settings
from classifier import TrainedModel
from storage.database import create_db_engine, session_factory, unit_of_work
from storage.migrate import upgrade
from tests.bot.conftest import NOW, install_model, set_policy, trained  # noqa: F401 - fixture
from tests.conftest import SAMPLE_TRAIN, empty_database
from tests.sandbox.driver import SlackPage

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    found = [path for path in CHROMIUM if Path(path).is_file()]
    return found[0] if found else shutil.which("chromium")


def missing(reason: str) -> None:
    """Skip outside CI; under CI a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


@contextmanager
def running_sandbox(
    directory: Path, trained_model: TrainedModel, **environment: str
) -> Iterator[tuple[Sandbox, sessionmaker[Session]]]:
    """A sandbox on a fresh database holding the sample and a model trained on it (as
    `triage sandbox` prepares it, with the model shared by the test session), on free ports."""
    with empty_database(directory) as url:
        engine = create_db_engine(url)
        upgrade(engine)
        factory = session_factory(engine)
        with unit_of_work(factory) as session:
            import_labelled_csv(SAMPLE_TRAIN, session=session, now=NOW)
        install_model(factory, trained_model)
        settings = Settings.from_env(
            {"DATABASE_URL": url, "PORT": str(free_port()), **SETTING_DEFAULTS, **environment},
            dotenv_path=None,
        )
        try:
            with Sandbox(settings, page_port=0, feed_per_minute=0) as sandbox:
                yield sandbox, factory
        finally:
            engine.dispose()


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

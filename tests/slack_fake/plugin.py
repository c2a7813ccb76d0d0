"""Pytest fixtures for the fake Slack: enable with pytest_plugins = ["tests.slack_fake.plugin"]."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
LOOPBACK = "127.0.0.1,localhost"


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep loopback traffic away from any proxy configured on the machine."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", LOOPBACK)
    monkeypatch.setenv("no_proxy", LOOPBACK)


@pytest.fixture
def fake_slack(no_proxy: None) -> Iterator[FakeSlack]:
    """A fresh fake Slack per test, listening on a free loopback port."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack_signing_secret() -> str:
    """The signing secret the app under test and the request builders share."""
    return SIGNING_SECRET

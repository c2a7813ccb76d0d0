"""Pytest fixtures for the fake Slack: enable with pytest_plugins = ["tests.slack_fixtures"]."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.slack import FakeSlack

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
    """A fresh fake Slack per test, listening on a free loopback port.

    The test fails if anything sent a message Slack would refuse (or show without fallback
    text), even when the code under test swallowed Slack's error.
    """
    with FakeSlack() as fake:
        yield fake
    if fake.message_problems:
        lines = "\n".join(f"  {method}: {reason}" for method, reason in fake.message_problems)
        pytest.fail(f"messages Slack would refuse or show without fallback text:\n{lines}")


@pytest.fixture
def slack_signing_secret() -> str:
    """The signing secret the app under test and the request builders share."""
    return SIGNING_SECRET

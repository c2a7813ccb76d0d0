"""`/triage` answers within Slack's 3 seconds even when Slack itself is slow or unreachable.

The admin user-group lookup happens before the acknowledgement (the answer depends on who
asks), so a slow or failing `usergroups.users.list` must not hold the ack back or break it;
the rollback's model loading happens after the ack and answers through the response_url.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack import FakeSlack, signed_slash_command
from classifier import TrainedModel
from storage.models import ModelVersion
from tests.bot.conftest import RunningWeb, install_model, serving, web_settings
from tests.bot.slack_proxy import SlackProxy

SLACK_ACK_LIMIT = 3.0
GROUP_LIST = "usergroups.users.list"


@pytest.fixture
def proxy(fake_slack: FakeSlack) -> Iterator[SlackProxy]:
    fake_slack.workspace.usergroups["SADMINS"] = ["UCAROL"]
    with SlackProxy(fake_slack) as running:
        yield running


@pytest.fixture
def behind_proxy(
    database_url: str,
    engine: Engine,
    fake_slack: FakeSlack,
    proxy: SlackProxy,
    slack_signing_secret: str,
) -> Iterator[RunningWeb]:
    """The web process with an admin user group, talking to Slack through the proxy."""
    settings = web_settings(
        database_url,
        fake_slack,
        slack_signing_secret,
        TRIAGE_ADMIN_GROUP="SADMINS",
        SLACK_API_URL=proxy.base_url,
    )
    with serving(settings, engine, fake_slack) as web:
        yield web


def command(
    web: RunningWeb, secret: str, text: str, user: str
) -> tuple[dict[str, str], float, str]:
    """Send `/triage text`; return the ack body, how long it took, and the response_url."""
    url = web.fake.new_response_url()
    started = time.monotonic()
    response = web.slack(signed_slash_command(secret, text=text, user_id=user, response_url=url))
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    return response.json(), elapsed, url


def two_versions(factory: sessionmaker[Session], trained: TrainedModel) -> tuple[int, int]:
    first = install_model(factory, trained)
    with factory.begin() as session:
        row = session.get(ModelVersion, first)
        assert row is not None
        row.status = "retired"
    return first, install_model(factory, trained)


def test_rollback_is_acknowledged_at_once_while_slack_is_slow_and_answers_later(
    behind_proxy: RunningWeb,
    proxy: SlackProxy,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    web = behind_proxy
    first, second = two_versions(factory, trained)
    release = proxy.hold(GROUP_LIST)  # Slack does not answer the membership question yet

    ack, elapsed, url = command(web, slack_signing_secret, f"rollback v{first}", "UADMIN")
    assert ack["text"] == "Working on it…" and elapsed < SLACK_ACK_LIMIT
    assert proxy.in_flight(GROUP_LIST) == 1  # the ack did not wait for Slack
    [answer] = web.fake.wait_for_response(url=url)
    assert answer["text"].startswith(f"Model v{first} is now active (was v{second}).")
    with factory() as session:
        assert session.get(ModelVersion, first).status == "active"  # type: ignore[union-attr]

    # Slack answers at last: the members it named are kept, without asking again.
    release.set()
    proxy.wait_answered(GROUP_LIST)
    carol, elapsed, _ = command(web, slack_signing_secret, "pause", "UCAROL")
    assert carol["text"].startswith("Automatic labelling paused") and elapsed < SLACK_ACK_LIMIT
    assert proxy.arrived.count(GROUP_LIST) == 1


def test_an_unreachable_slack_falls_back_to_triage_admins(
    behind_proxy: RunningWeb,
    proxy: SlackProxy,
    slack_signing_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    web = behind_proxy
    proxy.drop(GROUP_LIST)
    with caplog.at_level(logging.WARNING, logger="bot.admin_group"):
        member, _, _ = command(web, slack_signing_secret, "help", "UBOB")
        paused, _, _ = command(web, slack_signing_secret, "pause", "UADMIN")
        refused, _, _ = command(web, slack_signing_secret, "resume", "UCAROL")
    assert "/triage stats" in member["text"] and "/triage threshold" not in member["text"]
    assert paused["text"].startswith("Automatic labelling paused")
    assert refused["text"].startswith("Only triage admins can use `/triage resume`.")
    assert any(r.getMessage().startswith("admin group unavailable") for r in caplog.records)

"""The admin user group's members: read from Slack, kept for a while, failing closed."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.admin_group import MEMBERS_TTL, RETRY_AFTER_FAILURE, AdminGroup
from bot.sandbox.slack import FakeSlack
from tests.bot.conftest import NOW
from tests.bot.slack_proxy import SlackProxy


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def members_over_time(
    fake: FakeSlack, steps: list[tuple[timedelta, list[str] | None]]
) -> list[frozenset[str]]:
    """Advance the clock by each step, set the group (None: it does not exist), read members."""
    clock = Clock()
    group = AdminGroup("SADMINS", clock)
    client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)

    async def run() -> list[frozenset[str]]:
        seen = []
        for advance, members in steps:
            clock.now += advance
            if members is None:
                fake.workspace.usergroups.pop("SADMINS", None)
            else:
                fake.workspace.usergroups["SADMINS"] = members
            seen.append(await group.members(client))
        return seen

    return asyncio.run(run())


def test_members_are_kept_for_the_ttl_then_read_again(fake_slack: FakeSlack) -> None:
    just_before = MEMBERS_TTL - timedelta(seconds=1)
    seen = members_over_time(
        fake_slack,
        [(timedelta(0), ["UA"]), (just_before, ["UA", "UB"]), (timedelta(seconds=1), ["UB"])],
    )
    assert seen == [{"UA"}, {"UA"}, {"UB"}]
    assert len(fake_slack.calls_to("usergroups.users.list")) == 2


def test_when_slack_cannot_answer_the_last_members_stay_and_the_retry_waits(
    fake_slack: FakeSlack,
) -> None:
    seen = members_over_time(
        fake_slack,
        [
            (timedelta(0), ["UA"]),
            (MEMBERS_TTL, None),  # the group is gone or Slack fails: keep what we knew
            (RETRY_AFTER_FAILURE - timedelta(seconds=1), ["UB"]),  # not asked again yet
            (timedelta(seconds=1), ["UB"]),
        ],
    )
    assert seen == [{"UA"}, {"UA"}, {"UA"}, {"UB"}]
    assert len(fake_slack.calls_to("usergroups.users.list")) == 3


def test_an_unknown_group_at_start_means_no_group_admins(fake_slack: FakeSlack) -> None:
    assert members_over_time(fake_slack, [(timedelta(0), None)]) == [frozenset()]


def test_no_group_set_never_asks_slack(fake_slack: FakeSlack) -> None:
    members = asyncio.run(AdminGroup(None, Clock()).members(client=None))
    assert members == frozenset()
    assert fake_slack.calls_to("usergroups.users.list") == []


def test_a_network_failure_keeps_the_last_members_and_is_logged(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack unreachable (the connection drops): no exception reaches the command."""
    clock = Clock()
    group = AdminGroup("SADMINS", clock)
    fake_slack.workspace.usergroups["SADMINS"] = ["UA"]
    with SlackProxy(fake_slack) as proxy:
        client = AsyncWebClient(token="xoxb-test", base_url=proxy.base_url, retry_handlers=[])

        async def run() -> list[frozenset[str]]:
            known = await group.members(client)
            proxy.drop("usergroups.users.list")
            clock.now += MEMBERS_TTL
            return [known, await group.members(client)]

        with caplog.at_level(logging.WARNING, logger="bot.admin_group"):
            assert asyncio.run(run()) == [{"UA"}, {"UA"}]
    [record] = [r for r in caplog.records if r.name == "bot.admin_group"]
    assert record.getMessage().startswith("admin group unavailable")
    assert record.error == "ServerDisconnectedError"  # type: ignore[attr-defined]


def test_a_slow_lookup_does_not_hold_the_caller_and_its_answer_is_kept(
    fake_slack: FakeSlack,
) -> None:
    group = AdminGroup("SADMINS", Clock(), wait=0.2)
    fake_slack.workspace.usergroups["SADMINS"] = ["UA"]
    with SlackProxy(fake_slack) as proxy:
        release = proxy.hold("usergroups.users.list")
        client = AsyncWebClient(token="xoxb-test", base_url=proxy.base_url)

        async def run() -> tuple[frozenset[str], frozenset[str], float]:
            started = time.monotonic()
            first = await group.members(client)  # Slack has not answered: nobody known yet
            waited = time.monotonic() - started
            release.set()
            await asyncio.to_thread(proxy.wait_answered, "usergroups.users.list")
            return first, await group.members(client), waited

        first, later, waited = asyncio.run(run())
    assert first == frozenset() and waited < 2.0
    assert later == {"UA"}
    assert proxy.arrived.count("usergroups.users.list") == 1  # the answer came from the lookup

"""The admin user group's members: read from Slack, kept for a while, failing closed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.admin_group import MEMBERS_TTL, RETRY_AFTER_FAILURE, AdminGroup
from tests.bot.conftest import NOW
from tests.slack_fake import FakeSlack


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

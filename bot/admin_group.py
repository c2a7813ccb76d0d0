"""Members of the optional admin user group (`TRIAGE_ADMIN_GROUP`), read from Slack.

Membership lives in Slack, so asking on every command would spend part of Slack's
3-second window on a Web API call. The list is kept for a few minutes instead: someone
added to the group becomes an admin within that time. A command waits at most
`LOOKUP_WAIT` for Slack; past it, or when Slack cannot be reached or refuses, the last known
list stays in use (TRIAGE_ADMINS always count), so admin rights fail closed and a slow or
unreachable Slack never holds up an acknowledgement. A slow answer is still kept when it
arrives, for the next command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

MEMBERS_TTL = timedelta(minutes=5)
RETRY_AFTER_FAILURE = timedelta(seconds=30)
LOOKUP_WAIT = 1.0  # seconds a command waits for Slack before using the last known members
# What a Web API call raises when Slack refuses, cannot be reached, or does not answer in time.
UNAVAILABLE = (SlackClientError, aiohttp.ClientError, OSError, TimeoutError)


class AdminGroup:
    """A cached view of one Slack user group's members (none when no group is set)."""

    def __init__(
        self,
        group_id: str | None,
        now: Callable[[], datetime],
        *,
        ttl: timedelta = MEMBERS_TTL,
        retry_after: timedelta = RETRY_AFTER_FAILURE,
        wait: float = LOOKUP_WAIT,
    ) -> None:
        self.group_id = group_id
        self._now = now
        self._ttl = ttl
        self._retry_after = retry_after
        self._wait = wait
        self._members: frozenset[str] = frozenset()
        self._fresh_until: datetime | None = None
        self._lookup: asyncio.Task[None] | None = None

    async def members(self, client: Any) -> frozenset[str]:
        """The group's current members, asking Slack at most once per TTL."""
        if self.group_id is None:
            return frozenset()
        stale = self._fresh_until is None or self._now() >= self._fresh_until
        if stale and self._lookup is None:  # one Slack call even when commands arrive at once
            self._lookup = asyncio.create_task(self._refresh(client))
        if self._lookup is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._lookup), self._wait)
            except TimeoutError:
                log.warning(
                    "admin group lookup is slow; using the last known members",
                    extra={"group": self.group_id, "waited_s": self._wait},
                )
        return self._members

    async def _refresh(self, client: Any) -> None:
        try:
            response = await client.usergroups_users_list(usergroup=self.group_id)
        except UNAVAILABLE as error:
            reason = error.response.get("error") if isinstance(error, SlackApiError) else None
            log.warning(
                "admin group unavailable; using the last known members and TRIAGE_ADMINS",
                extra={"group": self.group_id, "error": reason or type(error).__name__},
            )
            self._fresh_until = self._now() + self._retry_after
            return
        else:
            self._members = frozenset(response.get("users") or ())
            self._fresh_until = self._now() + self._ttl
        finally:
            self._lookup = None

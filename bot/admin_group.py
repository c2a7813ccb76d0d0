"""Members of the optional admin user group (`TRIAGE_ADMIN_GROUP`), read from Slack.

Membership lives in Slack, so asking on every command would spend part of Slack's
3-second window on a Web API call. The list is kept for a few minutes instead: someone
added to the group becomes an admin within that time. When Slack cannot answer, the last
known list stays in use and the next try waits a little, so admin rights fail closed and a
Slack outage does not slow every command down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

MEMBERS_TTL = timedelta(minutes=5)
RETRY_AFTER_FAILURE = timedelta(seconds=30)


class AdminGroup:
    """A cached view of one Slack user group's members (none when no group is set)."""

    def __init__(
        self,
        group_id: str | None,
        now: Callable[[], datetime],
        *,
        ttl: timedelta = MEMBERS_TTL,
        retry_after: timedelta = RETRY_AFTER_FAILURE,
    ) -> None:
        self.group_id = group_id
        self._now = now
        self._ttl = ttl
        self._retry_after = retry_after
        self._members: frozenset[str] = frozenset()
        self._fresh_until: datetime | None = None
        self._lock = asyncio.Lock()

    async def members(self, client: Any) -> frozenset[str]:
        """The group's current members, asking Slack at most once per TTL."""
        if self.group_id is None:
            return frozenset()
        async with self._lock:  # one Slack call even when several commands arrive at once
            if self._fresh_until is None or self._now() >= self._fresh_until:
                await self._refresh(client)
            return self._members

    async def _refresh(self, client: Any) -> None:
        try:
            response = await client.usergroups_users_list(usergroup=self.group_id)
        except SlackApiError as error:
            log.warning(
                "admin group unavailable",
                extra={"group": self.group_id, "error": error.response.get("error")},
            )
            self._fresh_until = self._now() + self._retry_after
            return
        self._members = frozenset(response.get("users") or ())
        self._fresh_until = self._now() + self._ttl

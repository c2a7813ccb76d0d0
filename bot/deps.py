"""What listeners and HTTP handlers need, built once per process by the composition root."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.admin_group import AdminGroup
from bot.services.admin import is_admin, require_admin
from bot.services.intake import IntakeResult, NewTicket, submit_under_current_policy
from bot.services.model_cache import ModelCache
from bot.settings import Settings


@dataclass(frozen=True)
class Deps:
    """Settings, database, model and clock for one process."""

    settings: Settings
    factory: sessionmaker[Session]
    models: ModelCache
    now: Callable[[], datetime]
    rng: random.Random
    wake_deliveries: Callable[[], None]
    admin_group: AdminGroup

    async def is_admin(self, user: str, client: Any) -> bool:
        """Whether `user` may run admin commands (TRIAGE_ADMINS or the admin user group)."""
        return is_admin(user, self.settings, await self.admin_group.members(client))

    async def require_admin(self, user: str, client: Any, what: str) -> None:
        """Refuse `what` to a non-admin with a message naming who to ask."""
        require_admin(user, self.settings, what, await self.admin_group.members(client))

    async def submit_ticket(
        self, request: NewTicket, *, reply_to: tuple[str, str] | None = None
    ) -> IntakeResult:
        """The one way a ticket enters a web process (the API and the intake channel alike):
        classified and stored off the event loop under the admins' current policy; the outbox
        is woken when it queued something. `reply_to` is a Slack (channel, ts) to answer in."""
        result = await asyncio.to_thread(
            submit_under_current_policy,
            request,
            factory=self.factory,
            model=self.models.get,
            settings=self.settings,
            now=self.now(),
            rng=self.rng,
            reply_to=reply_to,
        )
        if result.created:
            self.wake_deliveries()
        return result

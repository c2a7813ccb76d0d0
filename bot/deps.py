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
from bot.intake_batcher import IntakeBatcher
from bot.services.admin import is_admin, require_admin
from bot.services.callback_destinations import refused_destinations
from bot.services.intake import IntakeResult, NewTicket
from bot.services.intake_batch import Answer, Submission
from bot.services.model_cache import ModelCache
from bot.services.policy_cache import PolicyCache
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
    policies: PolicyCache
    intake: IntakeBatcher

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
        classified and stored with the tickets arriving at the same moment, off the event
        loop, under the admins' current policy; the outbox is woken when it queued something.
        `reply_to` is a Slack (channel, ts) to answer in."""
        [answer] = await self.submit_tickets([Submission(request, reply_to)])
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def submit_tickets(self, submissions: list[Submission]) -> list[Answer]:
        """Many tickets (the batch endpoint): each answered with its result or its own error.

        A callback URL is resolved and checked first, off the event loop and outside the
        batch (DNS can be slow): a ticket whose callback may not go there is refused alone.
        """
        urls = [s.ticket.callback_url for s in submissions]
        refusals: list[Any] = [None] * len(submissions)
        if any(urls):
            allow = self.settings.callback_allow
            refusals = await asyncio.to_thread(refused_destinations, urls, allow=allow)
        accepted = [s for s, refusal in zip(submissions, refusals, strict=True) if refusal is None]
        taken = iter(await self.intake.submit(accepted) if accepted else [])
        answers: list[Answer] = [next(taken) if r is None else r for r in refusals]
        if any(isinstance(a, IntakeResult) and a.created for a in answers):
            self.wake_deliveries()
        return answers

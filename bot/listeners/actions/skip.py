"""Skip: leave the ticket for someone else, and show who passed on it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.deps import Deps
from bot.listeners.actions.common import click_listener
from bot.services.answers import AnswerOutcome, record_skip


def handler(deps: Deps) -> Any:
    """The Bolt listener for Skip."""

    def skip(ticket_id: int, user: str, session: Session, _admin: bool) -> AnswerOutcome:
        return record_skip(ticket_id, user=user, session=session, now=deps.now())

    return click_listener(deps, lambda _action: skip)

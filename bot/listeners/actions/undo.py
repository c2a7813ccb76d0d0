"""Undo: the person who chose a label takes it back within five minutes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.deps import Deps
from bot.listeners.actions.common import click_listener
from bot.services.answers import AnswerOutcome, undo_answer


def handler(deps: Deps) -> Any:
    """The Bolt listener for Undo."""

    def undo(ticket_id: int, user: str, session: Session, _admin: bool) -> AnswerOutcome:
        return undo_answer(ticket_id, user=user, session=session, now=deps.now())

    return click_listener(deps, lambda _action: undo)

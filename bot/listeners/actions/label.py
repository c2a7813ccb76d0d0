"""A suggestion button or the label select: record the person's label for the ticket."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.deps import Deps
from bot.errors import InvalidInput
from bot.listeners.actions.common import Service, click_listener
from bot.services.answers import AnswerOutcome, record_answer
from bot.services.policy import current_policy
from bot.services.second_opinions import opinion_rules


def chosen_label(action: dict[str, Any]) -> str:
    """The label a button carries in its value, or the option picked in the select."""
    if action.get("type") == "button":
        value = action.get("value")
    else:
        value = (action.get("selected_option") or {}).get("value")
    if not value:
        raise InvalidInput("No label was chosen.")
    return str(value)


def handler(deps: Deps) -> Any:
    """The Bolt listener for label clicks."""

    def answer_for(action: dict[str, Any]) -> Service:
        label = chosen_label(action)

        def answer(ticket_id: int, user: str, session: Session, admin: bool) -> AnswerOutcome:
            policy = current_policy(session=session, settings=deps.settings)
            return record_answer(
                ticket_id,
                user=user,
                label=label,
                quorum=policy.quorum,
                session=session,
                now=deps.now(),
                opinions=opinion_rules(settings=deps.settings, policy=policy),
                admin=admin,
            )

        return answer

    return click_listener(deps, answer_for)

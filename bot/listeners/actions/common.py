"""What every ticket click does around its service call: parse, run off the loop, reply."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from bot.blocks.answers import answer_reply
from bot.blocks.ids import ticket_id_from_block
from bot.deps import Deps
from bot.errors import InvalidInput
from bot.services.answers import AnswerOutcome
from storage.database import unit_of_work

# (ticket id, user, session, whether the user is an admin) -> what became of the click
Service = Callable[[int, str, Session, bool], AnswerOutcome]


def clicked_ticket(action: dict[str, Any]) -> int:
    """The ticket id carried in the clicked block's id."""
    ticket_id = ticket_id_from_block(action.get("block_id", ""))
    if ticket_id is None:
        raise InvalidInput("This button does not belong to a ticket message.")
    return ticket_id


async def run_click(
    deps: Deps,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Any,
    service: Service,
    client: Any = None,
) -> AnswerOutcome:
    """Run `service` in a worker thread (database work stays off the event loop), nudge the
    outbox so the message updates at once, and answer privately when there is news."""
    ticket_id, user = clicked_ticket(action), body["user"]["id"]
    admin = await deps.is_admin(user, client)  # settles a ticket whose answers disagree

    def unit() -> AnswerOutcome:
        with unit_of_work(deps.factory) as session:
            return service(ticket_id, user, session, admin)

    outcome = await asyncio.to_thread(unit)
    deps.wake_deliveries()
    reply = answer_reply(outcome)
    if reply is not None:
        await respond(text=reply, response_type="ephemeral", replace_original=False)
    return outcome


def click_listener(deps: Deps, service_for: Callable[[dict[str, Any]], Service]) -> Any:
    """A Bolt listener that acknowledges at once, then runs the service the action calls for."""

    async def on_click(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: Any
    ) -> None:
        await ack()
        await run_click(deps, body, action, respond, service_for(action), client)

    return on_click

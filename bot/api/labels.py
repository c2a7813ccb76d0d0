"""`POST /api/tickets/{id}/label` and `DELETE /api/tickets/{id}/label`: a label decided in the
helpdesk, recorded as a human answer by `helpdesk:<actor>`, and its undo.

They run the very services a click in Slack runs, so the same rules hold: the first answer
wins (a later one is a 409 carrying the answer that stands), a quorum counts it as one
person, a doubtful or sampled first answer waits for a second person's in Slack (the route and
callback wait for the settled label; a disagreement goes to a third person, then to an admin,
whom the helpdesk is not), only its author may undo it and only within five minutes, the
review message is updated through the outbox, and the answer counts for retraining and
reviewer figures.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.auth import require_token
from bot.api.params import path_ticket_id
from bot.api.tickets import read_json
from bot.deps import Deps
from bot.errors import Conflict, InvalidInput, NotFound
from bot.services.actors import helpdesk_actor
from bot.services.answers import AnswerOutcome, AnswerStatus, record_answer, undo_answer
from bot.services.policy import current_policy
from bot.services.second_opinions import opinion_rules
from bot.services.ticket_text import MAX_LABEL_LENGTH
from bot.services.ticket_view import public_view
from storage.database import unit_of_work
from storage.models import Ticket

Answered = tuple[AnswerOutcome, dict[str, Any] | None]


def _label(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_LABEL_LENGTH:
        raise InvalidInput(
            f"label is required: a label name of at most {MAX_LABEL_LENGTH} characters.",
            field="label",
        )
    return raw.strip()


def _settled_words(view: dict[str, Any]) -> str:
    """`labelled refund by helpdesk:ann`, `labelled refund automatically`, ..."""
    settled = f"labelled {view['label']}" if view["label"] else "settled as fitting no label"
    if view["decided_by"]:
        return f"{settled} by {view['decided_by']}"
    return f"{settled} automatically" if view["status"] == "auto" else settled


def _answered(outcome: AnswerOutcome, view: dict[str, Any] | None, actor: str) -> JSONResponse:
    """The HTTP answer to a label: the ticket on success, a problem otherwise."""
    ticket_id = outcome.ticket_id
    if outcome.status == AnswerStatus.NOT_FOUND or view is None:
        raise NotFound(f"There is no ticket {ticket_id}.")
    if outcome.status == AnswerStatus.UNKNOWN_LABEL:
        raise InvalidInput(f"label {outcome.label!r} is not a label in use.", field="label")
    status = outcome.status
    if status == AnswerStatus.ALREADY_DECIDED and view["decided_by"] == actor:
        status = AnswerStatus.DUPLICATE  # a retried request: the answer already stands
    if status == AnswerStatus.ALREADY_DECIDED:
        raise Conflict(
            f"Ticket {ticket_id} is already {_settled_words(view)}; the first answer wins.",
            members={"label": view["label"], "decided_by": view["decided_by"], "ticket": view},
        )
    if status == AnswerStatus.NEEDS_ADMIN:
        raise Conflict(
            f"Ticket {ticket_id}'s answers disagree: only an admin can settle it now, in Slack.",
            members={"label": view["label"], "decided_by": view["decided_by"], "ticket": view},
        )
    return JSONResponse({"outcome": str(status), "ticket": view})


def label_endpoint(deps: Deps) -> Any:
    """POST: record the helpdesk's label as `helpdesk:<actor>`'s answer."""

    async def label(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        ticket_id = path_ticket_id(request.path_params["ticket_id"])
        fields = await read_json(request)
        chosen = _label(fields.get("label"))
        actor = helpdesk_actor(fields.get("actor"))

        def run() -> Answered:
            with unit_of_work(deps.factory) as session:
                policy = current_policy(session=session, settings=deps.settings)
                outcome = record_answer(
                    ticket_id,
                    user=actor,
                    label=chosen,
                    quorum=policy.quorum,
                    session=session,
                    now=deps.now(),
                    opinions=opinion_rules(settings=deps.settings, policy=policy),
                )
                ticket = session.get(Ticket, ticket_id)
                return outcome, None if ticket is None else public_view(ticket)

        outcome, view = await asyncio.to_thread(run)
        deps.wake_deliveries()
        return _answered(outcome, view, actor)

    return label


def undo_label_endpoint(deps: Deps) -> Any:
    """DELETE: take back the helpdesk's label, by the agent who sent it, within five minutes."""

    async def undo(request: Request) -> JSONResponse:
        require_token(request, deps.settings.api_tokens)
        ticket_id = path_ticket_id(request.path_params["ticket_id"])
        actor = helpdesk_actor(request.query_params.get("actor"))

        def run() -> Answered:
            with unit_of_work(deps.factory) as session:
                outcome = undo_answer(ticket_id, user=actor, session=session, now=deps.now())
                ticket = session.get(Ticket, ticket_id)
                return outcome, None if ticket is None else public_view(ticket)

        outcome, view = await asyncio.to_thread(run)
        deps.wake_deliveries()
        if view is None:
            raise NotFound(f"There is no ticket {ticket_id}.")
        refusals = {
            AnswerStatus.NOT_FOUND: f"Ticket {ticket_id} has no answer from a person to undo.",
            AnswerStatus.NOT_YOURS: f"Only {outcome.decided_by}, who chose it, can undo it.",
            AnswerStatus.TOO_LATE: "The label was chosen over 5 minutes ago: too late to undo.",
        }
        if outcome.status in refusals:
            members = {"label": view["label"], "decided_by": view["decided_by"], "ticket": view}
            raise Conflict(refusals[outcome.status], members=members)
        return JSONResponse({"outcome": str(outcome.status), "ticket": view})

    return undo

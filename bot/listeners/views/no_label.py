"""The "None of these" modal submitted: record that no label fits, with the proposed name.

An answer that cannot count (the ticket was labelled meanwhile, the name is not a usable
label name) keeps the modal open with the reason under the field, as Slack shows errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.blocks import ids
from bot.blocks.answers import modal_error
from bot.deps import Deps
from bot.errors import InvalidInput
from bot.services.admin_labels import check_label_name
from bot.services.answers import AnswerOutcome, AnswerStatus, record_no_label
from bot.services.policy import current_policy
from bot.services.second_opinions import opinion_rules
from storage.database import unit_of_work

COUNTED = (AnswerStatus.DECIDED, AnswerStatus.RECORDED, AnswerStatus.SECOND_OPINION)


def submitted(view: dict[str, Any]) -> tuple[int, str | None]:
    """The ticket id from the view's metadata and the proposed name, if one was typed."""
    metadata = str(view.get("private_metadata") or "")
    if not metadata.isdigit():
        raise InvalidInput("This form does not belong to a ticket.")
    values = (view.get("state") or {}).get("values") or {}
    typed = ((values.get(ids.PROPOSED_LABEL_BLOCK) or {}).get(ids.PROPOSED_LABEL_INPUT) or {}).get(
        "value"
    )
    name = typed.strip() if isinstance(typed, str) else ""
    return int(metadata), name or None


def handler(deps: Deps) -> Any:
    """The Bolt listener for the modal's submission."""

    async def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        try:
            ticket_id, proposed = submitted(view)
            if proposed is not None:
                check_label_name(proposed)
        except InvalidInput as error:
            await ack(response_action="errors", errors={ids.PROPOSED_LABEL_BLOCK: error.reason})
            return
        user = body["user"]["id"]
        admin = await deps.is_admin(user, client)

        def unit() -> AnswerOutcome:
            with unit_of_work(deps.factory) as session:
                policy = current_policy(session=session, settings=deps.settings)
                return record_no_label(
                    ticket_id,
                    user=user,
                    proposed=proposed,
                    quorum=policy.quorum,
                    session=session,
                    now=deps.now(),
                    opinions=opinion_rules(settings=deps.settings, policy=policy),
                    admin=admin,
                )

        outcome = await asyncio.to_thread(unit)
        if outcome.status not in COUNTED:
            errors = {ids.PROPOSED_LABEL_BLOCK: modal_error(outcome)}
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        deps.wake_deliveries()

    return on_submit

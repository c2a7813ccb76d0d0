"""Steps tests take in Slack: post a ticket, find its review message, click on it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Review, Ticket
from tests.bot.conftest import REVIEW_CHANNEL, RunningWeb
from tests.slack_fake import signed_block_action

CARD_TEXT = "I ordered my card two weeks ago and it still has not arrived"


def post_ticket(web: RunningWeb, text: str = CARD_TEXT, **fields: Any) -> dict[str, Any]:
    response = web.api("POST", "/api/tickets", json={"text": text, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def review_message(web: RunningWeb, count: int = 1) -> dict[str, Any]:
    """The newest review-channel post once `count` have arrived and the web process has
    stored its ts on the ticket (Slack answers before that commit, so without the wait a
    test can race the delivery)."""
    web.fake.wait_for(
        lambda call: call.method == "chat.postMessage" and call.params["channel"] == REVIEW_CHANNEL,
        count=count,
    )
    message = [m for m in web.fake.messages(REVIEW_CHANNEL) if "thread_ts" not in m][-1]

    def recorded() -> bool:
        with web.process.deps.factory() as session:
            found = session.scalar(select(Ticket.id).where(Ticket.slack_ts == message["ts"]))
        return found is not None

    web.fake.wait_until(recorded, what=f"ticket with slack_ts {message['ts']}")
    return message


def element(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for item in block.get("elements", []) + [block.get("accessory") or {}]:
            if item.get("action_id") == action_id:
                return {**item, "block_id": block["block_id"]}
    raise AssertionError(f"no {action_id} in {message['blocks']}")


def click(
    web: RunningWeb,
    secret: str,
    message: dict[str, Any],
    action_id: str,
    *,
    user: str,
    option: str | None = None,
) -> tuple[int, str]:
    """Send a signed click on `action_id` as `user`; return (HTTP status, response url)."""
    target = element(message, action_id)
    response_url = web.fake.new_response_url()
    signed = signed_block_action(
        secret,
        user_id=user,
        action_id=action_id,
        block_id=target["block_id"],
        value=target.get("value"),
        selected_option_value=option,
        channel_id=message["channel"],
        message_ts=message["ts"],
        message=message,
        response_url=response_url,
    )
    return web.slack(signed).status_code, response_url


def reviews(factory: sessionmaker[Session]) -> list[Review]:
    with factory() as session:
        return list(session.scalars(select(Review).order_by(Review.id)))

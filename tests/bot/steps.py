"""Steps tests take in Slack: post a ticket, find its review message, click on it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_now
from bot.sandbox.slack import signed_block_action
from bot.services.policy import LABEL_THRESHOLDS
from storage.models import Review, Ticket
from storage.queries.labels import ensure_labels
from tests.bot.conftest import NOW, REVIEW_CHANNEL, RunningWeb, set_policy

CARD_TEXT = "I ordered my card two weeks ago and it still has not arrived"


def label_history(factory: sessionmaker[Session]) -> None:
    """What a rename must carry along: labels card_arrival and lost_card, a ticket Alice
    labelled card_arrival with her answer, and an admin bar for card_arrival."""
    with factory.begin() as session:
        ensure_labels(["card_arrival", "lost_card"], session=session, now=NOW)
        row = Ticket(
            text="t",
            created_at=NOW,
            status="labelled",
            predicted_label="card_arrival",
            final_label="card_arrival",
            decided_by="UALICE",
        )
        session.add(row)
        session.add(
            Review(
                ticket=row, slack_user="UALICE", label="card_arrival", kind="review", created_at=NOW
            )
        )
    set_policy(factory, LABEL_THRESHOLDS, {"card_arrival": 0.9})


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


def click_fields(
    web: RunningWeb,
    message: dict[str, Any],
    action_id: str,
    *,
    user: str,
    option: str | None = None,
) -> dict[str, Any]:
    """What Slack reports when `user` clicks `action_id` on `message`, with a new response url."""
    target = element(message, action_id)
    return {
        "user_id": user,
        "action_id": action_id,
        "block_id": target["block_id"],
        "value": target.get("value"),
        "selected_option_value": option,
        "channel_id": message["channel"],
        "message_ts": message["ts"],
        "message": message,
        "response_url": web.fake.new_response_url(),
    }


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
    fields = click_fields(web, message, action_id, user=user, option=option)
    return web.slack(signed_block_action(secret, **fields)).status_code, fields["response_url"]


def reviews(factory: sessionmaker[Session]) -> list[Review]:
    with factory() as session:
        return list(session.scalars(select(Review).order_by(Review.id)))


def team_history(factory: sessionmaker[Session]) -> None:
    """60 tickets, most answered by all three people; UCARELESS is wrong on every third."""
    moment = utc_now() - timedelta(days=1)
    labels = ["card_arrival", "card_linking", "exchange_rate", "top_up_failed"]
    with factory.begin() as session:
        for i in range(60):
            right = labels[i % len(labels)]
            ticket = Ticket(
                text=f"ticket {i}",
                source="api",
                status="labelled",
                decision="review",
                final_label=right,
                decided_by="UALICE",
                decided_at=moment,
                created_at=moment,
            )
            session.add(ticket)
            careless = right if i % 3 else labels[(i + 1) % len(labels)]
            for user, label in (("UALICE", right), ("UDAVE", right), ("UCARELESS", careless)):
                if (i + ["UALICE", "UDAVE", "UCARELESS"].index(user)) % 3 == 2 and i % 2:
                    continue  # not everyone saw every ticket
                session.add(
                    Review(
                        ticket=ticket,
                        slack_user=user,
                        label=label,
                        kind="review",
                        created_at=moment,
                    )
                )

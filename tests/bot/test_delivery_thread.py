"""The web process's delivery thread: Slack hanging or failing never holds up intake, and
every review message still goes out exactly once when Slack is back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack import FakeSlack
from storage.models import OutboxMessage
from tests.bot.conftest import REVIEW_CHANNEL, RunningWeb
from tests.bot.steps import CARD_TEXT


def review_posts(fake: FakeSlack) -> list[dict[str, Any]]:
    return [
        call.params
        for call in fake.calls_to("chat.postMessage", include_faulty=False)
        if call.ok and call.params["channel"] == REVIEW_CHANNEL and not call.params.get("thread_ts")
    ]


def claimed(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return len(session.scalars(select(OutboxMessage).where(OutboxMessage.attempts > 0)).all())


def test_a_hung_slack_holds_up_delivery_only(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    reviewing.fake.hold("chat.postMessage")  # Slack accepts the connection and never answers
    try:
        first = reviewing.api("POST", "/api/tickets", json={"text": CARD_TEXT, "external_id": "0"})
        assert first.status_code == 201
        reviewing.fake.wait_until(
            lambda: claimed(factory) >= 1, 10, "the delivery thread to be stuck in a post"
        )
        ids = [first.json()["id"]]
        for i in range(1, 6):  # while the post hangs, intake answers as before
            response = reviewing.api(
                "POST", "/api/tickets", json={"text": CARD_TEXT, "external_id": str(i)}
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        assert review_posts(reviewing.fake) == []
    finally:
        reviewing.fake.release()
    reviewing.fake.wait_until(
        lambda: len(review_posts(reviewing.fake)) >= len(ids), 15, "every review post"
    )
    assert len(review_posts(reviewing.fake)) == len(ids)


def test_a_failing_slack_loses_and_doubles_nothing(reviewing: RunningWeb) -> None:
    reviewing.fake.set_flaky(0.5, seed=3)
    for i in range(8):
        response = reviewing.api(
            "POST", "/api/tickets", json={"text": CARD_TEXT, "external_id": f"f{i}"}
        )
        assert response.status_code == 201, response.text
    reviewing.fake.wait_until(lambda: len(review_posts(reviewing.fake)) >= 8, 30, "8 posts")
    reviewing.fake.set_flaky(0)
    assert len(review_posts(reviewing.fake)) == 8

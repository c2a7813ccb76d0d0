"""App Home end to end: signed app_home_opened and home button clicks against the real server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.home import HOME_PAUSE, HOME_RESUME, HOME_RETRAIN
from bot.sandbox.slack import assert_valid_view, signed_app_home_opened, signed_block_action
from bot.services.policy import PAUSED, RETRAIN_REQUESTED, THRESHOLD
from classifier import TrainedModel, wilson_interval
from storage.models import AuditLogEntry, Review, RuntimeSetting, Ticket
from tests.bot.conftest import RunningWeb, install_model, set_policy
from tests.bot.steps import click, post_ticket, review_message, team_history


def open_home(web: RunningWeb, secret: str, user: str, count: int = 1) -> dict[str, Any]:
    assert web.slack(signed_app_home_opened(secret, user_id=user)).status_code == 200
    web.fake.wait_for(
        lambda c: c.method == "views.publish" and c.params["user_id"] == user, count=count
    )
    view = web.fake.home_views[user]
    assert_valid_view(view)
    return view


def press(web: RunningWeb, secret: str, user: str, action_id: str, count: int) -> dict[str, Any]:
    signed = signed_block_action(
        secret,
        user_id=user,
        action_id=action_id,
        value=action_id,
        channel_id="D0001",
        message_ts="1.1",
        response_url=web.fake.new_response_url(),
    )
    assert web.slack(signed).status_code == 200
    web.fake.wait_for(
        lambda c: c.method == "views.publish" and c.params["user_id"] == user, count=count
    )
    return web.fake.home_views[user]


def action_ids(view: dict[str, Any]) -> set[str]:
    return {e.get("action_id") for b in view["blocks"] for e in b.get("elements", [])} - {None}


def test_home_shows_state_backlog_and_the_persons_week(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    version = install_model(factory, trained)
    set_policy(factory, THRESHOLD, 1.0)
    created = post_ticket(web)
    message = review_message(web)
    post_ticket(web, external_id="second")
    review_message(web, count=2)
    click(
        web, slack_signing_secret, message, "triage_pick_label", user="UBOB", option="card_arrival"
    )
    web.fake.wait_for("chat.update")

    view = str(open_home(web, slack_signing_secret, "UBOB")["blocks"])
    assert f"🟢 running · model v{version}" in view and "50% automated" not in view
    assert "Threshold 1.00 for all labels" in view
    assert "*Waiting for review: 1*" in view and f"Ticket #{created['id']}" not in view
    assert "https://fake.slack/archives/" in view
    # Bob's answer alone decided his ticket: no agreement figure, and the view says why.
    assert "1 answer · agreement not measured yet" in view and "100%" not in view
    assert "did not rest on your answer alone" in view
    assert HOME_RETRAIN not in view  # not an admin


def test_admin_buttons_run_the_same_code_as_the_commands(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    view = open_home(web, slack_signing_secret, "UADMIN")
    assert action_ids(view) == {HOME_RETRAIN, HOME_PAUSE}
    assert "no model yet" in str(view["blocks"])

    paused = press(web, slack_signing_secret, "UADMIN", HOME_PAUSE, count=2)
    assert action_ids(paused) == {HOME_RETRAIN, HOME_RESUME}
    assert "paused" in str(paused["blocks"]) and "every ticket now goes to review" in str(paused)
    retrain = press(web, slack_signing_secret, "UADMIN", HOME_RETRAIN, count=3)
    assert "Retraining requested" in str(retrain["blocks"])
    resumed = press(web, slack_signing_secret, "UADMIN", HOME_RESUME, count=4)
    assert action_ids(resumed) == {HOME_RETRAIN, HOME_PAUSE}

    with factory() as session:
        actions = [e.action for e in session.scalars(select(AuditLogEntry))]
        stored = session.get(RuntimeSetting, RETRAIN_REQUESTED)
        assert stored is not None and stored.value["by"] == "UADMIN"
    assert actions == [f"set {PAUSED}", f"set {RETRAIN_REQUESTED}", f"set {PAUSED}"]


def test_a_member_pressing_an_admin_button_is_refused(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    view = press(web, slack_signing_secret, "UBOB", HOME_PAUSE, count=1)
    assert "Only triage admins can use `/triage pause`" in str(view["blocks"])
    with factory() as session:
        assert list(session.scalars(select(AuditLogEntry))) == []


def test_home_figures_from_a_week_of_tickets(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    install_model(factory, trained)
    now = datetime.now(UTC)
    with factory.begin() as session:

        def ticket(hours: float, **fields: Any) -> Ticket:
            row = Ticket(text="t", created_at=now - timedelta(hours=hours), **fields)
            session.add(row)
            return row

        for hours in range(6):
            ticket(hours + 1, status="auto", decision="auto", final_label="card_arrival")
        for answer in ("card_arrival", "card_arrival", "card_arrival", "lost_or_stolen_card"):
            ticket(
                10,
                status="auto",
                decision="audit",
                predicted_label="card_arrival",
                final_label=answer,
                decided_by="UAUD",
                decided_at=now - timedelta(hours=9),
            )
        for _ in range(4):
            ticket(20, status="pending", decision="review")
        shared = ticket(
            30,
            status="labelled",
            decision="review",
            predicted_label="card_arrival",
            final_label="card_arrival",
            decided_by="UALICE",
            decided_at=now - timedelta(hours=29),
        )
        for who in ("UBOB", "UALICE"):  # quorum 2: Bob's answer, then Alice's decided it
            session.add(
                Review(
                    ticket=shared,
                    slack_user=who,
                    label="card_arrival",
                    kind="review",
                    created_at=now - timedelta(hours=29),
                )
            )
        ticket(24 * 9, status="auto", decision="auto", final_label="card_arrival")  # too old

    view = str(open_home(web, slack_signing_secret, "UBOB")["blocks"])
    assert "67% automated" in view  # 10 of the 15 tickets of the last 7 days
    low, high = wilson_interval(3, 4)
    assert f"audit precision 75.0% ({low:.1%}–{high:.1%}, 4 audits)" in view
    assert f"Model's threshold {trained.thresholds.default:.2f} for all labels" in view
    assert "tuned per label" not in view
    assert "*Waiting for review: 4*" in view
    assert "1 answer · 100% agree with the final label on 1 ticket decided with someone else" in (
        view
    )


def test_your_week_shows_your_estimated_accuracy_with_its_interval(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    team_history(factory)
    careless = str(open_home(web, slack_signing_secret, "UCARELESS")["blocks"])
    found = re.search(r"estimated accuracy (\d+)% \((\d+)%–(\d+)%", careless)
    assert found is not None
    accuracy, low, high = (int(g) for g in found.groups())
    assert low < accuracy < high and 75 <= accuracy <= 85
    careful = str(open_home(web, slack_signing_secret, "UALICE")["blocks"])
    assert re.search(r"estimated accuracy 9\d%", careful)

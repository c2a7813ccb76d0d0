"""`triage pause|resume|threshold|target|audit|quorum|floor|rollback|models|stats`: the
service steered from a shell while Slack is unusable, as `/triage` steers it.

The web process runs with the fake Slack; each command runs the real entry point against
the same database, and the next ticket through the API shows its effect, as in
tests/bot/test_commands.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.sandbox.slack.waiting import wait_until
from bot.services.policy import current_policy
from bot.settings import Settings
from classifier import TrainedModel
from storage.models import AuditLogEntry, Ticket
from tests.bot.conftest import (
    ALERTS_CHANNEL,
    OPERATOR,
    Ran,
    RunningWeb,
    install_model,
    install_two_models,
)
from tests.bot.steps import click, post_ticket, review_message

Cli = Callable[..., Ran]
OTHER_TEXT = "How do I top up with Apple Pay?"  # the sample model does not say card_arrival
ANNOUNCED = f"Announced in {ALERTS_CHANNEL}."


def audit_log(factory: sessionmaker[Session]) -> list[tuple[str, str, object, object]]:
    with factory() as session:
        entries = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id))
        return [(e.actor, e.action, e.before, e.after) for e in entries]


def said(ran: Ran) -> str:
    """The one line a successful command printed."""
    assert ran.status == 0, ran.err
    [line] = ran.out.splitlines()
    return line


def announcements(web: RunningWeb, count: int) -> list[str]:
    """The texts of the first `count` posts in the alerts channel, once they arrived."""
    calls = web.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.params["channel"] == ALERTS_CHANNEL and c.ok,
        count=count,
    )
    return [call.params["text"] + json.dumps(call.params.get("blocks")) for call in calls]


def ticket_status(web: RunningWeb, ticket_id: int) -> str:
    response = web.api("GET", f"/api/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


@pytest.fixture
def modelled(web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel) -> RunningWeb:
    """The web process with the sample model active, at its tuned thresholds."""
    install_model(factory, trained)
    return web


def test_pause_and_resume_while_slack_is_down(
    modelled: RunningWeb, cli: Cli, factory: sessionmaker[Session]
) -> None:
    web = modelled
    assert said(cli("threshold", "0", "--as", "alice")).startswith("Threshold for all labels")
    assert post_ticket(web, external_id="before")["status"] == "auto"
    web.fake.set_down()

    assert said(cli("pause", "--as", "alice")) == (
        f"Automatic labelling paused: every ticket now goes to review. {ANNOUNCED}"
    )
    paused = post_ticket(web, external_id="paused")
    assert (paused["status"], paused["decision"], paused["label"]) == ("pending", "review", None)
    assert paused["suggested_label"] == "card_arrival"  # the model still ran
    again = said(cli("pause"))
    assert again == "Automatic labelling is already paused. Nothing changed."
    assert said(cli("resume")) == f"Automatic labelling resumed. {ANNOUNCED}"
    assert post_ticket(web, external_id="resumed")["status"] == "auto"

    assert audit_log(factory)[1:] == [
        ("cli:alice", "set paused", {"paused": None}, {"paused": True}),
        (f"cli:{OPERATOR}", "set paused", {"paused": True}, {"paused": False}),
    ]
    web.fake.set_down(False)  # Slack is back: the outbox delivers what waited
    posted = announcements(web, 3)
    [pause] = [text for text in posted if "Automatic labelling paused" in text]
    [resume] = [text for text in posted if "Automatic labelling resumed" in text]
    assert "(by alice)" in pause and "Changed by alice on the `triage` command line" in pause
    assert f"Changed by {OPERATOR} on the `triage` command line" in resume
    assert all("<@" not in text for text in posted)


def test_threshold_changes_the_next_ticket_like_the_slash_command(
    modelled: RunningWeb, cli: Cli, factory: sessionmaker[Session]
) -> None:
    web = modelled
    assert said(cli("threshold", "1")) == (
        f"Threshold for all labels set to 1.00 (was the model's tuned thresholds). {ANNOUNCED}"
    )
    assert post_ticket(web)["status"] == "pending"
    assert said(cli("threshold", "0%")).startswith(
        "Threshold for all labels set to 0.00 (was 1.00)"
    )
    assert post_ticket(web, external_id="second")["status"] == "auto"
    assert said(cli("threshold", "0")).endswith("Nothing changed.")

    held = said(cli("threshold", "card_arrival", "1"))
    assert held == (
        f"Threshold for card_arrival set to 1.00 (was the model's tuned thresholds). {ANNOUNCED}"
    )
    card = post_ticket(web, external_id="card")
    assert (card["status"], card["suggested_label"]) == ("pending", "card_arrival")
    other = post_ticket(web, OTHER_TEXT, external_id="other")
    assert other["status"] == "auto" and other["label"] not in (None, "card_arrival")
    said(cli("threshold", "card_arrival", "tuned"))
    assert post_ticket(web, external_id="card again")["status"] == "auto"
    tuned = said(cli("threshold", "tuned"))
    assert tuned.startswith("Threshold for every label set to the model's tuned thresholds")

    actor = f"cli:{OPERATOR}"
    assert audit_log(factory) == [
        (actor, "set threshold", {"threshold": None}, {"threshold": 1.0}),
        (actor, "set threshold", {"threshold": 1.0}, {"threshold": 0.0}),
        (
            actor,
            "set label_thresholds",
            {"label_thresholds": None},
            {"label_thresholds": {"card_arrival": 1.0}},
        ),
        (
            actor,
            "set label_thresholds",
            {"label_thresholds": {"card_arrival": 1.0}},
            {"label_thresholds": {}},
        ),
        (actor, "set threshold", {"threshold": 0.0}, {"threshold": None}),
    ]
    assert len(announcements(web, 5)) == 5


def test_the_audit_rate_samples_the_next_confident_tickets(modelled: RunningWeb, cli: Cli) -> None:
    web = modelled
    said(cli("threshold", "0"))
    assert post_ticket(web, external_id="unaudited")["decision"] == "auto"
    assert said(cli("audit", "100%")) == (
        f"Audit rate set to 100.0% of automatic tickets (was 0.0%). {ANNOUNCED}"
    )
    audited = post_ticket(web, external_id="audited")
    assert (audited["status"], audited["decision"]) == ("auto", "audit")
    assert "Audit" in review_message(web)["text"]
    said(cli("audit", "0"))
    assert post_ticket(web, external_id="after")["decision"] == "auto"


def test_the_confidence_floor_holds_back_every_label(
    modelled: RunningWeb, cli: Cli, settings: Settings
) -> None:
    web = modelled
    said(cli("threshold", "0"))
    assert post_ticket(web, external_id="under the default floor")["status"] == "auto"
    floor = said(cli("floor", "100%", "--as", "alice"))
    assert floor == (
        f"Confidence floor set to 100% (was {settings.confidence_floor:.0%}): no ticket is "
        f"labelled automatically below it, whatever its label's threshold. {ANNOUNCED}"
    )
    held = post_ticket(web, external_id="held")
    assert (held["status"], held["suggested_label"]) == ("pending", "card_arrival")
    other = post_ticket(web, OTHER_TEXT, external_id="other")
    assert other["status"] == "pending"
    said(cli("floor", "0.5"))
    assert post_ticket(web, external_id="released")["status"] == "auto"


def test_a_quorum_of_two_needs_a_second_answer_from_the_next_ticket_on(
    reviewing: RunningWeb, cli: Cli, slack_signing_secret: str
) -> None:
    web = reviewing
    assert said(cli("quorum", "2")) == f"Quorum set to 2 matching answer(s) (was 1). {ANNOUNCED}"
    first = post_ticket(web)
    message = review_message(web)
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UALICE", option="card_arrival")
    web.fake.wait_for("chat.update")  # the vote is shown on the message
    assert ticket_status(web, first["id"]) == "pending"
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UBOB", option="card_arrival")
    wait_until(lambda: ticket_status(web, first["id"]) == "labelled", timeout=10, what="2 votes")

    said(cli("quorum", "1"))
    second = post_ticket(web, external_id="second")
    message = review_message(web, count=2)
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UALICE", option="card_arrival")
    wait_until(lambda: ticket_status(web, second["id"]) == "labelled", timeout=10, what="1 vote")


def test_target_is_kept_for_the_next_retraining(
    cli: Cli, factory: sessionmaker[Session], settings: Settings
) -> None:
    assert said(cli("target", "97%", "--as", "alice")) == (
        "Target precision set to 97.0% (was 95.0%); the next retraining tunes thresholds "
        f"for it. {ANNOUNCED}"
    )
    with factory() as session:
        assert current_policy(session=session, settings=settings).target_precision == 0.97
    assert audit_log(factory) == [
        (
            "cli:alice",
            "set target_precision",
            {"target_precision": None},
            {"target_precision": 0.97},
        )
    ]


def test_models_then_rollback_switch_the_running_web_process(
    web: RunningWeb, cli: Cli, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    first, second = install_two_models(factory, trained)
    accuracy = f"{trained.cv_metrics.accuracy:.1%}"
    coverage = f"{trained.cv_metrics.coverage:.0%}"

    listed = cli("models").out.splitlines()
    assert listed[0].split() == [
        "VERSION",
        "STATUS",
        "ACCURACY",
        "AUTOMATED",
        "EXAMPLES",
        "TRAINED",
        "NOTE",
    ]
    assert listed[1].split() == [
        f"v{second}",
        "active",
        accuracy,
        coverage,
        f"{trained.n_examples:,}",
        "2026-11-23",
        "12:00",
        "UTC",
    ]
    assert listed[2].split()[:2] == [f"v{first}", "retired"]
    assert listed[3] == "Switch to another version with `triage rollback VERSION`."
    machine = json.loads(cli("models", "--json").out)
    assert [(m["version"], m["status"]) for m in machine] == [
        (second, "active"),
        (first, "retired"),
    ]
    assert machine[0]["accuracy"] == trained.cv_metrics.accuracy
    assert machine[0]["created_at"] == "2026-11-23T12:00:00+00:00"

    assert post_ticket(web, external_id="before")["model_version"] == second
    assert said(cli("rollback", f"v{first}", "--as", "alice")) == (
        f"Model v{first} is now active (was v{second}). {ANNOUNCED}"
    )
    assert (
        said(cli("rollback", str(first))) == f"Model v{first} is already active. Nothing changed."
    )
    [entry] = audit_log(factory)
    assert entry == (
        "cli:alice",
        "activate model",
        {"active_version": second},
        {"active_version": first},
    )
    tickets = iter(range(100))
    wait_until(
        lambda: post_ticket(web, external_id=f"after {next(tickets)}")["model_version"] == first,
        timeout=10,
        what="the web process to pick up the rolled-back model",
    )
    assert f"Model v{first} is now active" in announcements(web, 1)[0]


def test_stats_in_words_and_for_scripts(
    reviewing: RunningWeb, cli: Cli, factory: sessionmaker[Session]
) -> None:
    created = post_ticket(reviewing)
    with factory() as session:
        arrived = session.scalars(select(Ticket.created_at).where(Ticket.id == created["id"])).one()
    lines = cli("stats", "30d").out.splitlines()
    assert lines[:6] == [
        "Last 30 days: 1 ticket in",
        "  Automated: 0 (0%), 0 sampled for audit",
        "  Audit precision: no audits answered yet",
        "  Reviewed by people: 0 · time to answer p50 n/a, p90 n/a",
        f"  Waiting for review now: 1 (oldest since {arrived:%Y-%m-%d %H:%M} UTC)",
        "  Unlike anything learned: 0 sent to people · 0 answered “none of these”",
    ]
    # The gate in force: the admins' threshold of 1, the default floor, the detector's rates.
    assert lines[6].startswith("  Gate: threshold 100% (the target's average guarantee)")
    floor = f"floor {Settings().confidence_floor:.0%} per ticket · novelty: "
    assert floor in lines[6] and len(lines) == 7
    figures = json.loads(cli("stats", "--json").out)
    assert (figures["days"], figures["tickets_in"], figures["pending"]) == (7, 1, 1)
    assert figures["automation_rate"] == 0.0 and figures["audit_precision"] is None

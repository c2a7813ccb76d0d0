"""Alert checks: each fires on its condition, says what to do, and is rate-limited."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer
from bot.sandbox.slack import FakeSlack
from bot.services.answers import record_answer
from bot.services.policy import LABEL_THRESHOLDS
from bot.settings import Settings
from classifier import wilson_interval
from jobs.checks import run_checks
from jobs.digest import post_digest
from storage.models import ModelStatus, ModelVersion, OutboxKind, TicketStatus
from storage.queries.labels import ensure_labels
from storage.queries.outbox import enqueue, mark_failed
from storage.queries.runtime_settings import set_runtime_setting
from tests.jobs.conftest import Clock
from tests.jobs.helpers import (
    add_answered_audit,
    add_ticket,
    alerts,
    channel_posts,
    shared_history,
)


def checks(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> list[str]:
    with factory.begin() as session:
        return run_checks(session=session, settings=settings, now=clock())


def test_backlog_alert_is_rate_limited_and_counts_repeats(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    for _ in range(3):
        add_ticket(factory, clock())
    assert checks(factory, job_settings, clock) == ["backlog"]
    [first] = alerts(factory)
    assert "3 reviews waiting (alert above 2)" in first and "What to do" in first
    assert "happened" not in first
    clock.advance(minutes=10)
    add_ticket(factory, clock())
    assert checks(factory, job_settings, clock) == []  # counted into the posted alert
    [first] = alerts(factory)
    assert "4 reviews waiting (alert above 2)" in first  # its newest figures
    assert "happened 1 more time, latest <!date^" in first
    clock.advance(minutes=55)
    assert checks(factory, job_settings, clock) == ["backlog"]  # the cooldown is over
    assert "happened 1 more time" in alerts(factory)[0]
    assert "happened" not in alerts(factory)[1]


def test_audit_precision_is_judged_corrected_for_the_auditors_wrong_answers(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "exchange_rate"], session=session, now=clock())
    shared_history(factory, clock(), wrong_every=5)  # U1, the auditor, is wrong 20% of the time
    rules = job_settings.with_overrides(min_audits_for_alert=20)
    for i in range(20):  # 17 of 20 audits confirm: 85% measured
        add_answered_audit(factory, clock(), agree=i % 7 != 0)
    # U1's own answers account for the shortfall: above target once corrected
    assert "audit-precision" not in checks(factory, rules, clock)
    for _ in range(10):  # 17 of 30: more than U1's errors can explain
        add_answered_audit(factory, clock(), agree=False)
    assert "audit-precision" in checks(factory, rules, clock)
    alert = next(a for a in alerts(factory) if "Automatic precision" in a)
    assert "% of wrong audit answers; measured 56.7%" in alert
    assert "corrected for an estimated" in alert and "on the last 30 audits" in alert
    with factory.begin() as session:
        assert post_digest(session=session, settings=job_settings, now=clock())
    digest = channel_posts(factory)[-1]
    assert "*Audit precision:* " in digest and "of wrong audit answers; measured 56.7%" in digest


def test_audit_precision_is_judged_by_the_audits_powered_by_the_models_confidence(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "exchange_rate"], session=session, now=clock())
    for _ in range(200):  # automated, not audited, the model 97% sure of each
        add_ticket(
            factory,
            clock(),
            status=TicketStatus.AUTO,
            decision="auto",
            predicted_label="card_arrival",
            final_label="card_arrival",
            confidence=0.97,
        )
    rules = job_settings.with_overrides(min_audits_for_alert=20)
    for i in range(20):  # 17 of 20 agree (85%), on tickets the model was only 80% sure of
        add_answered_audit(factory, clock(), agree=i % 7 != 0, confidence=0.8)
    # The audits' errors are what their confidence predicts: the estimate stays above target
    # where the plain share (85%, Wilson 64-95%) is under it
    assert "audit-precision" not in checks(factory, rules, clock)
    for _ in range(10):  # 17 of 30: far more wrong than the model's confidence said
        add_answered_audit(factory, clock(), agree=False, confidence=0.8)
    assert "audit-precision" in checks(factory, rules, clock)
    alert = next(a for a in alerts(factory) if "Automatic precision" in a)
    mean = (200 * 0.97 + 30 * 0.8) / 230
    estimate = mean + (17 * 0.2 - 13 * 0.8) / 30
    assert f"dropped: {estimate:.1%} (" in alert, alert
    assert (
        ") estimated from 30 audits and the model's confidence on 230 automated tickets · "
        "audit share: 56.7% (" in alert
    )
    assert "on the last 30 audits, target 95%" in alert
    with factory.begin() as session:
        assert post_digest(session=session, settings=job_settings, now=clock())
    digest = channel_posts(factory)[-1]
    assert f"*Audit precision:* {estimate:.1%} (" in digest
    assert "the model's confidence on 230 automated tickets · audit share: 56.7% (" in digest
    assert "on 30 audits" in digest


def test_audit_precision_below_target_needs_enough_audits(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "exchange_rate"], session=session, now=clock())

    for agree in (True, True, False, False):
        add_answered_audit(factory, clock(), agree=agree)
    assert "audit-precision" not in checks(factory, job_settings, clock)  # only 4 audits
    add_answered_audit(factory, clock(), agree=True)
    assert "audit-precision" in checks(factory, job_settings, clock)
    alert = next(a for a in alerts(factory) if "Automatic precision" in a)
    assert "60.0%" in alert and "on the last 5 audits, target 95%" in alert
    assert "/triage pause" in alert


def test_failing_deliveries_alert_after_ten_minutes(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    with factory.begin() as session:
        message = enqueue(
            OutboxKind.CHANNEL_MESSAGE,
            session=session,
            now=clock(),
            payload={"channel": "C1", "text": "hi"},
        )
        session.flush()
        mark_failed(message.id, session=session, retry_at=clock(), error="HTTP 503")
    assert "delivery" not in checks(factory, job_settings, clock)
    clock.advance(minutes=11)
    assert "delivery" in checks(factory, job_settings, clock)
    assert "Slack deliveries failing: 1 of 1" in alerts(factory)[-1]


def test_digest_summarises_the_day(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    add_ticket(
        factory,
        clock(),
        status=TicketStatus.AUTO,
        decision="auto",
        predicted_label="card_arrival",
        final_label="card_arrival",
    )
    add_ticket(factory, clock())
    clock.advance(hours=1)
    with factory.begin() as session:
        assert post_digest(session=session, settings=job_settings, now=clock())
    digest = channel_posts(factory)[-1]
    assert "Tickets in:* 2" in digest and "automated 1 (50.0%)" in digest
    assert "waiting now:* 1" in digest and "no active model" in digest


def test_a_repeat_edits_the_posted_alert_in_slack(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock, fake_slack: FakeSlack
) -> None:
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url)
    deliverer = Deliverer(factory, client, job_settings, now=clock)
    for _ in range(3):
        add_ticket(factory, clock())
    assert checks(factory, job_settings, clock) == ["backlog"]
    assert deliverer.run_once() == 1
    [posted] = fake_slack.messages("CALERTS")
    assert "3 reviews waiting" in posted["text"]

    for minutes in (5, 5):
        clock.advance(minutes=minutes)
        add_ticket(factory, clock())
        assert checks(factory, job_settings, clock) == []
        assert deliverer.run_once() == 1
    [edited] = fake_slack.messages("CALERTS")  # still one message in the channel
    assert edited["ts"] == posted["ts"]
    shown = str(edited["blocks"])
    assert "5 reviews waiting" in shown and "happened 2 more times" in shown
    assert [c.method for c in fake_slack.calls] == [
        "chat.postMessage",
        "chat.update",
        "chat.update",
    ]


def test_drift_alert_when_the_share_sent_to_review_jumps_against_the_past_week(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    def arrive(count: int, *, reviewed: int, days_ago: float) -> None:
        for n in range(count):
            fields = (
                {"status": TicketStatus.LABELLED, "decided_by": "U1"}
                if n < reviewed
                else {"status": TicketStatus.AUTO, "decision": "auto"}
            )
            add_ticket(factory, clock() - timedelta(days=days_ago), **fields)

    for days_ago in range(2, 8):  # the trailing week: 10% needed a person
        arrive(10, reviewed=1, days_ago=days_ago)
    arrive(29, reviewed=15, days_ago=0.5)
    assert "drift" not in checks(factory, job_settings, clock)  # too few tickets to judge
    arrive(11, reviewed=1, days_ago=0.25)  # 40 today, 16 of them (40%) to review
    assert "drift" in checks(factory, job_settings, clock)
    alert = next(a for a in alerts(factory) if "More tickets need people" in a)
    assert "40% sent to review in the last 24 h, against 10% over the 7 days before" in alert
    assert "40 tickets in the last 24 h" in alert and "/triage labels add" in alert


def test_no_drift_alert_while_the_share_holds(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    for days_ago in (0.5, *range(2, 8)):
        for n in range(40):
            status = TicketStatus.LABELLED if n < 12 else TicketStatus.AUTO  # 30% every day
            add_ticket(factory, clock() - timedelta(days=days_ago), status=status)
    assert "drift" not in checks(factory, job_settings, clock)


def test_digest_shows_every_figure_and_the_thresholds_in_force(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    labels = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_failed"]
    with factory.begin() as session:
        ensure_labels(labels, session=session, now=clock())
        session.add(
            ModelVersion(
                status=ModelStatus.ACTIVE,
                artifact=b"not loaded by the digest",
                sha256="0" * 64,
                metrics={},
                thresholds={
                    "default": 0.82,
                    "per_label": {"card_arrival": 0.9, "top_up_failed": None},
                    "never_auto": ["lost_or_stolen_card"],
                },
                n_examples=100,
                n_answers=0,
                created_at=clock(),
                activated_at=clock(),
            )
        )
        set_runtime_setting(  # admins' overrides: shown, unless the label is never automatic
            LABEL_THRESHOLDS,
            {"exchange_rate": 0.7, "lost_or_stolen_card": 0.6},
            session=session,
            actor="UADMIN",
            now=clock(),
        )
    add_ticket(
        factory,
        clock(),
        status=TicketStatus.AUTO,
        decision="auto",
        predicted_label="card_arrival",
        final_label="card_arrival",
    )
    for agree in (True, True, True, False):  # audits: 3 of 4 confirm the automatic label
        add_answered_audit(factory, clock(), agree=agree)
    for minutes, chosen in ((10, "exchange_rate"), (20, "exchange_rate"), (40, "top_up_failed")):
        ticket = add_ticket(factory, clock(), predicted_label="card_arrival")
        with factory.begin() as session:
            later = clock() + timedelta(minutes=minutes)
            record_answer(ticket, user="U2", label=chosen, quorum=1, session=session, now=later)
    for _ in range(2):
        add_ticket(factory, clock())  # still waiting
    clock.advance(hours=1)
    with factory.begin() as session:
        assert post_digest(session=session, settings=job_settings, now=clock())
    digest = channel_posts(factory)[-1]
    low, high = wilson_interval(3, 4)
    for shown in (
        "*Tickets in:* 10 · automated 5 (50.0%) · reviewed by people 3",
        f"*Audit precision:* 75.0% ({low:.1%}–{high:.1%}) on 4 audits",
        "*Review time:* p50 20 min, p90 36 min · *waiting now:* 2",
        "*Model:* v1, threshold 0.82 · per label: card_arrival 0.90, exchange_rate 0.70, "
        "top_up_failed never · never automatic: 1 label (too few examples)",
        "*Most confused:* card_arrival → exchange_rate (3), card_arrival → top_up_failed (1)",
    ):
        assert shown in digest

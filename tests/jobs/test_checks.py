"""Alert checks: each fires on its condition, says what to do, and is rate-limited."""

from __future__ import annotations

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer
from bot.services.answers import record_answer
from bot.settings import Settings
from jobs.checks import run_checks
from jobs.digest import post_digest
from storage.models import OutboxKind, TicketStatus
from storage.queries.labels import ensure_labels
from storage.queries.outbox import enqueue, mark_failed
from tests.jobs.conftest import Clock
from tests.jobs.helpers import add_ticket, alerts, channel_posts
from tests.slack_fake import FakeSlack


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


def test_audit_precision_below_target_needs_enough_audits(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "exchange_rate"], session=session, now=clock())

    def audited(agree: bool) -> None:
        ticket_id = add_ticket(
            factory,
            clock(),
            status=TicketStatus.AUTO,
            decision="audit",
            predicted_label="card_arrival",
            final_label="card_arrival",
        )
        with factory.begin() as session:
            record_answer(
                ticket_id,
                user="U1",
                label="card_arrival" if agree else "exchange_rate",
                quorum=1,
                session=session,
                now=clock(),
            )

    for agree in (True, True, False, False):
        audited(agree)
    assert "audit-precision" not in checks(factory, job_settings, clock)  # only 4 audits
    audited(True)
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

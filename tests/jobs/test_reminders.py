"""Reminders and escalation on a controlled clock: each stage once per ticket."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.ticket import build_reminder
from bot.services.reminders import WAITED_SECONDS
from bot.settings import Settings
from jobs.reminders import escalate, send_reminders
from tests.jobs.conftest import Clock
from tests.jobs.helpers import add_ticket, alerts, thread_replies


def test_one_reminder_then_one_escalation(
    factory: sessionmaker[Session], job_settings: Settings, clock: Clock
) -> None:
    waiting = add_ticket(factory, clock(), slack_channel="CREVIEW", slack_ts="1.1")
    add_ticket(factory, clock(), slack_channel=None, slack_ts=None)  # not posted yet: skipped
    add_ticket(factory, clock(), status="labelled", slack_channel="CREVIEW", slack_ts="1.2")

    def tick(minutes: float) -> tuple[int, int]:
        clock.advance(minutes=minutes)
        with factory.begin() as session:
            reminded = send_reminders(session=session, settings=job_settings, now=clock())
        with factory.begin() as session:
            escalated = escalate(
                session=session,
                settings=job_settings,
                now=clock(),
                permalink=lambda c, ts: f"https://slack.test/{c}/{ts}",
            )
        return reminded, escalated

    assert tick(29) == (0, 0)
    assert tick(2) == (1, 0)
    assert thread_replies(factory) == [
        {"channel": "CREVIEW", "thread_ts": "1.1", WAITED_SECONDS: 31 * 60}
    ]
    assert build_reminder(31 * 60) == {"text": "Still waiting for a label after 31 min."}
    assert tick(60) == (0, 0)
    assert tick(30) == (0, 1)
    [alert] = alerts(factory)
    assert "1 review waiting over 2 h" in alert
    assert f"<https://slack.test/CREVIEW/1.1|Ticket #{waiting}>" in alert
    assert "@channel" not in alert and "!channel" not in alert
    assert tick(120) == (0, 0)
    assert len(alerts(factory)) == 1 and len(thread_replies(factory)) == 1

"""New-topic job: cluster recent novel tickets and tell ops once per topic found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.services.alerts_channel import Severity
from bot.services.topics import (
    ALERT_EXAMPLES_PREFIX,
    TopicNews,
    find_topics,
    topic_alert_key,
)
from bot.settings import Settings
from jobs.alerts import raise_alert


def look_for_topics(*, session: Session, settings: Settings, now: datetime) -> TopicNews:
    """Find new topics; each new one is one alert with its count and masked examples."""
    news = find_topics(session=session, settings=settings, now=now)
    for topic in news.found:
        examples = " · ".join(f"“{text}”" for text in topic.examples)
        raise_alert(
            topic_alert_key(topic.topic_id),
            Severity.INFO,
            f"A new kind of ticket: {topic.tickets} in the last {settings.topic_window_hours} h "
            "are unlike any label",
            what_to_do="Review the suggested label in App Home (`/triage labels suggest`), "
            "or answer them in the review channel; similar tickets go to people meanwhile.",
            details=[
                f"suggested label: {topic.proposed_label} "
                f"(frequent words: {', '.join(topic.keywords) or 'none'})",
                ALERT_EXAMPLES_PREFIX + examples,
            ],
            session=session,
            settings=settings,
            now=now,
            rate_limited=False,
        )
    return news

"""Read-only `/triage` commands: stats and queue for all; reviewers, models, labels for admins."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.blocks.commands import (
    labels_message,
    models_message,
    queue_message,
    reviewers_message,
    stats_message,
)
from bot.listeners.commands import parsing
from bot.listeners.commands.context import Call, Message
from bot.listeners.links import review_links
from bot.services.admin_labels import all_labels
from bot.services.admin_models import recent_models
from bot.services.stats import PendingTicket, backlog, oldest_pending, reviewer_stats, service_stats

QUEUE_SHOWN = 5


async def stats(call: Call) -> Message:
    """Figures for a period (7 days unless asked)."""
    days = parsing.period(call.args)
    now = call.deps.now()
    figures = await call.db(lambda session: service_stats(session=session, now=now, days=days))
    return stats_message(figures)


async def queue(call: Call) -> Message:
    """The backlog, oldest first, linked to the review messages."""
    parsing.expect(call.args, 0, 0)

    def read(session: Session) -> tuple[int, list[PendingTicket]]:
        total, _ = backlog(session=session)
        return total, oldest_pending(session=session, limit=QUEUE_SHOWN)

    total, items = await call.db(read)
    links = await review_links(call.client, items)
    return queue_message(total, items, links, call.deps.settings.review_channel)


async def reviewers(call: Call) -> Message:
    """Answers, agreement and response time per person over a period."""
    days = parsing.period(call.args)
    now = call.deps.now()
    people = await call.db(lambda session: reviewer_stats(session=session, now=now, days=days))
    return reviewers_message(people, days)


async def models(call: Call) -> Message:
    """Stored model versions with their metrics and status."""
    parsing.expect(call.args, 0, 0)
    return models_message(await call.db(lambda session: recent_models(session=session)))


async def labels(call: Call) -> Message:
    """Every label with its description and route."""
    parsing.expect(call.args, 0, 0)
    return labels_message(await call.db(lambda session: all_labels(session=session)))

"""Read-only `/triage` commands: stats, queue and reviewers (one's own) for all; everyone's
reviewers, models and labels for admins."""

from __future__ import annotations

from dataclasses import replace

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
from bot.services.reliability import reviewer_reliability
from bot.services.stats import (
    PendingTicket,
    ReviewerStats,
    backlog,
    gate_summary,
    oldest_pending,
    reviewer_stats,
    service_stats,
)

QUEUE_SHOWN = 5


async def stats(call: Call) -> Message:
    """Figures for a period (7 days unless asked)."""
    days = parsing.period(call.args)
    now = call.deps.now()
    figures = await call.db(lambda session: service_stats(session=session, now=now, days=days))
    gate = await call.db(lambda session: gate_summary(session=session, settings=call.deps.settings))
    return stats_message(figures, gate)


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
    """Answers, agreement, estimated accuracy and response time per person over a period:
    admins see everyone, anyone else only themselves."""
    days = parsing.period(call.args)
    now = call.deps.now()
    everyone = await call.deps.is_admin(call.user, call.client)

    def read(session: Session) -> list[ReviewerStats]:
        people = reviewer_stats(
            session=session, now=now, days=days, user=None if everyone else call.user
        )
        estimates = reviewer_reliability(session=session, now=now, days=days)
        return [replace(p, estimate=estimates.get(p.user)) for p in people]

    return reviewers_message(await call.db(read), days, own=not everyone)


async def models(call: Call) -> Message:
    """Stored model versions with their metrics and status."""
    parsing.expect(call.args, 0, 0)
    return models_message(await call.db(lambda session: recent_models(session=session)))


async def labels(call: Call) -> Message:
    """Every label with its description and route."""
    parsing.expect(call.args, 0, 0)
    return labels_message(await call.db(lambda session: all_labels(session=session)))

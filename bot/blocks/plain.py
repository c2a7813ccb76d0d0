"""Answers for a terminal: the service data `/triage` shows, as plain text for `triage`.

Sentences are Slack's own (`changes.change_summary`, `commands.stats_lines`) with plain
marks; lists are aligned tables. No Slack markup reaches a terminal: names are shown as
they are, channels by id or `#name`, moments in UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.blocks.changes import change_confirmation
from bot.blocks.commands import CHANNEL_ID, stats_lines
from bot.blocks.text import Marks, shorten, utc_text
from bot.services.admin import AdminChange
from bot.services.admin_models import ModelSummary
from bot.services.stats import GateSummary, ServiceStats
from bot.services.topics import TopicSummary
from bot.words import counted
from storage.models import Label

DESCRIPTION_SHOWN = 60


def plain_channel(channel: str) -> str:
    """A channel id as it is (`C0123ABCD`), a name as people write it (`#refunds`)."""
    return channel if CHANNEL_ID.match(channel) else f"#{channel}"


PLAIN = Marks(name=str, channel=plain_channel, since=utc_text, strong=str)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, numbers: Collection[int] = ()
) -> str:
    """Columns aligned under their headers, the `numbers` columns (indexes) to the right;
    trailing spaces trimmed."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if index in numbers else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join(line(cells) for cells in [headers, *rows])


def _share(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def change_text(change: AdminChange, *, alerts_channel: str | None) -> str:
    """The one-line confirmation of an admin change, worded as `/triage` words it."""
    return change_confirmation(change, alerts_channel=alerts_channel, marks=PLAIN)


def stats_text(stats: ServiceStats, gate: GateSummary | None = None) -> str:
    """The heading, then one indented line per figure."""
    head, lines = stats_lines(stats, PLAIN, gate)
    return "\n".join([head, *(f"  {line}" for line in lines)])


def models_text(models: Sequence[ModelSummary]) -> str:
    """Stored versions, newest first, as a table, then how to switch."""
    if not models:
        return "No model has been trained yet. Train one with `triage train`."
    rows = [
        (
            f"v{model.version}",
            str(model.status),
            _share(model.accuracy, 1),
            _share(model.coverage, 0),
            f"{model.n_examples:,}",
            utc_text(model.created_at),
            model.rejected_because or "",
        )
        for model in models
    ]
    headers = ("VERSION", "STATUS", "ACCURACY", "AUTOMATED", "EXAMPLES", "TRAINED", "NOTE")
    listed = table(headers, rows, numbers=(2, 3, 4))
    return f"{listed}\nSwitch to another version with `triage rollback VERSION`."


def labels_text(labels: Sequence[Label]) -> str:
    """Active labels with routes and descriptions as a table; retired ones named after it."""
    active = [label for label in labels if label.active]
    retired = [label.name for label in labels if not label.active]
    lines = [f"{counted(len(active), 'active label')}."]
    if active:
        rows = [
            (
                label.name,
                plain_channel(label.route_channel) if label.route_channel else "-",
                shorten(label.description or "", DESCRIPTION_SHOWN),
            )
            for label in active
        ]
        lines.append(table(("LABEL", "ROUTE", "DESCRIPTION"), rows))
    if retired:
        lines.append(f"Retired ({len(retired)}): " + ", ".join(retired))
    return "\n".join(lines)


def suggestions_text(topics: Sequence[TopicSummary]) -> str:
    """Open new topics as a table, each one's examples below it, then what to do."""
    if not topics:
        return "No new topic is waiting for a label."
    rows = [
        (
            str(topic.topic_id),
            topic.proposed_label,
            str(topic.tickets),
            str(topic.pending),
            utc_text(topic.found_at),
            ", ".join(topic.keywords) or "-",
        )
        for topic in topics
    ]
    headers = ("TOPIC", "SUGGESTED LABEL", "TICKETS", "WAITING", "FOUND", "FREQUENT WORDS")
    lines = [table(headers, rows, numbers=(0, 2, 3))]
    for topic in topics:
        if topic.examples:
            examples = " · ".join(f"“{text}”" for text in topic.examples)
            lines.append(f"Topic {topic.topic_id}, e.g. {examples}")
    lines.append(
        "Create its label with `triage labels suggest create TOPIC [NAME]`, "
        "or dismiss it with `triage labels suggest dismiss TOPIC`."
    )
    return "\n".join(lines)

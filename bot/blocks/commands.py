"""Answers to `/triage`: short ephemeral messages that always say what to do next."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.blocks.text import SECTION_LIMIT, Marks, escape, person, slack_time
from bot.services.admin_models import ModelSummary
from bot.services.stats import GateSummary, PendingTicket, ReviewerStats, ServiceStats
from bot.words import counted, duration, percent, powered_audit
from storage.models import Label

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
MAX_LIST_BLOCKS = 40


def channel_mention(channel: str) -> str:
    """`<#C0123>` for an id (Slack shows its name), `#name` for a name."""
    return f"<#{channel}>" if CHANNEL_ID.match(channel) else f"#{escape(channel)}"


SLACK = Marks(
    name=escape,
    channel=channel_mention,
    since=lambda moment: slack_time(moment, "{ago}"),
    strong=lambda text: f"*{text}*",
)


def text_message(text: str) -> dict[str, Any]:
    """A plain mrkdwn answer."""
    return {"text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _lines_to_sections(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Pack lines into sections under Slack's length limit, noting what did not fit."""
    blocks: list[dict[str, Any]] = []
    current = ""
    for index, line in enumerate(lines):
        if len(current) + len(line) + 1 > SECTION_LIMIT:
            if len(blocks) == MAX_LIST_BLOCKS - 1:
                blocks.append(_context(f"… and {len(lines) - index} more"))
                return blocks
            blocks.append(_section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(_section(current))
    return blocks


def retrain_reply(alerts_channel: str | None) -> dict[str, Any]:
    """Training runs in the worker: say when it starts and where its result appears."""
    where = f" in {channel_mention(alerts_channel)}" if alerts_channel else ""
    return text_message(
        f"Retraining requested; the worker starts it within a minute and posts the result{where}."
    )


def error_reply(reason: str, usage: str | None) -> dict[str, Any]:
    """What went wrong, then how to write it."""
    return text_message(f"{reason}\nUsage: `{usage}`" if usage else reason)


def help_message(
    commands: Sequence[tuple[str, str]], admin_commands: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """The command list; admin commands only for admins."""
    lines = ["*/triage* commands:"] + [f"• `{usage}` — {what}" for usage, what in commands]
    if admin_commands:
        lines.append("*Admin:*")
        lines += [f"• `{usage}` — {what}" for usage, what in admin_commands]
    lines.append("Answer reviews with the buttons on each review message.")
    return text_message("\n".join(lines))


def _pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def precision_text(stats: ServiceStats) -> str:
    """`96.1% (93.2–97.9%, 200 audits)` or a note that nothing was audited yet."""
    if stats.audit_precision is None or stats.audit_interval is None:
        return "no audits answered yet"
    low, high = stats.audit_interval
    measured = (
        f"{stats.audit_precision:.1%} ({low:.1%}–{high:.1%}, {counted(stats.audit_total, 'audit')})"
    )
    corrected = stats.corrected_audit
    share = measured
    if corrected is not None and stats.audit_label_error is not None:
        value, low, high = corrected
        share = (
            f"{value:.1%} ({low:.1%}–{high:.1%}) corrected for an estimated "
            f"{stats.audit_label_error:.1%} of wrong audit answers; measured {measured}"
        )
    estimate, powered = stats.audit_estimate, stats.audit_powered
    if estimate is None or powered is None:
        return share
    words = powered_audit(
        estimate,
        audits=powered.labelled,
        automated=powered.predicted,
        label_error=stats.audit_label_error,
    )
    return f"{words} · audit share: {share}"


def _latency(seconds: float | None) -> str:
    return "n/a" if seconds is None else duration(seconds)


def novelty_text(report: dict[str, Any]) -> str:
    """`novelty: 4.9% false alarms, catches 60% of unseen labels` (measured on held-out data)."""
    recall = report.get("recall_held_out_labels")
    caught = "" if recall is None else f", catches {percent(recall)} of unseen labels"
    return f"novelty: {percent(report['false_alarm_measured'])} false alarms{caught}"


def gate_text(gate: GateSummary) -> str:
    """The bar in force, the per-ticket floor, and the novelty detector's measured rates."""
    if gate.threshold is None:
        bar = "no model yet (everything goes to people)"
    elif gate.threshold > 1:
        bar = "threshold never (nothing is automatic)"
    else:
        bar = f"threshold {percent(gate.threshold)} (the target's average guarantee)"
    parts = [bar, f"floor {percent(gate.floor)} per ticket"]
    if gate.novelty:
        parts.append(novelty_text(gate.novelty))
    elif gate.threshold is not None:
        parts.append("novelty detection off for this model")
    return " · ".join(parts)


def stats_lines(
    stats: ServiceStats, marks: Marks, gate: GateSummary | None = None
) -> tuple[str, list[str]]:
    """The heading and the figures of a period: automation, audit precision, latency,
    backlog and the busiest labels (Slack and the command line word them alike)."""
    period = f"Last {counted(stats.days, 'day')}:"
    head = f"{marks.strong(period)} {counted(stats.tickets_in, 'ticket')} in"
    oldest = stats.oldest_pending_at
    lines = [
        f"Automated: {stats.automated} ({_pct(stats.automation_rate)}), "
        f"{stats.audited} sampled for audit",
        f"Audit precision: {precision_text(stats)}",
        f"Reviewed by people: {stats.reviewed} · time to answer "
        f"p50 {_latency(stats.review_latency_p50)}, p90 {_latency(stats.review_latency_p90)}",
        f"Waiting for review now: {stats.pending}"
        + (f" (oldest since {marks.since(oldest)})" if oldest else ""),
    ]
    if stats.per_label:
        top = list(stats.per_label.items())[:5]
        lines.append("Top labels: " + ", ".join(f"{marks.name(n)} {c}" for n, c in top))
    if stats.confused_pairs:
        pairs = stats.confused_pairs[:3]
        lines.append(
            "Most corrected: "
            + ", ".join(f"{marks.name(a)} → {marks.name(b)} ({c})" for a, b, c in pairs)
        )
    lines.append(
        f"Unlike anything learned: {stats.novel} sent to people · "
        f"{stats.no_label} answered “none of these”"
    )
    if stats.callbacks_given_up:
        lines.append(
            f"Helpdesk callbacks given up: {stats.callbacks_given_up} · an admin sends them "
            "again with `callbacks retry all`"
        )
    if gate is not None:
        lines.append(f"Gate: {gate_text(gate)}")
    return head, lines


def stats_message(stats: ServiceStats, gate: GateSummary) -> dict[str, Any]:
    """Automation, audit precision, latency, backlog and the busiest labels for a period."""
    head, lines = stats_lines(stats, SLACK, gate)
    text = "\n".join([head, *(f"• {line}" for line in lines)])
    return {
        "text": f"Triage stats, last {stats.days} days",
        "blocks": [_section(text), _context("Details per person: `/triage reviewers`")],
    }


def pending_lines(items: Sequence[PendingTicket], links: dict[int, str]) -> list[str]:
    """One line per waiting ticket, linked to its review message when it was posted."""
    lines = []
    for item in items:
        name = f"Ticket #{item.ticket_id}"
        shown = f"<{links[item.ticket_id]}|{name}>" if item.ticket_id in links else name
        lines.append(f"• {shown} · waiting since {slack_time(item.created_at, '{ago}')}")
    return lines


def queue_message(
    total: int, items: Sequence[PendingTicket], links: dict[int, str], review_channel: str | None
) -> dict[str, Any]:
    """The backlog and its oldest tickets."""
    if total == 0:
        return text_message("Nothing is waiting for review. 🎉")
    where = f" in {channel_mention(review_channel)}" if review_channel else ""
    head = f"*{counted(total, 'ticket')} waiting for review{where}*, oldest first:"
    return {
        "text": f"{counted(total, 'ticket')} waiting for review",
        "blocks": [_section("\n".join([head, *pending_lines(items, links)]))],
    }


def _model_line(model: ModelSummary) -> str:
    parts = [f"*v{model.version}* · {model.status}"]
    if model.accuracy is not None:
        parts.append(f"accuracy {model.accuracy:.1%}")
    if model.coverage is not None:
        parts.append(f"automated {model.coverage:.0%}")
    parts.append(f"{model.n_examples:,} examples")
    if model.novelty:
        parts.append(novelty_text(model.novelty))
    parts.append(slack_time(model.created_at, "{date_short}"))
    if model.rejected_because:
        parts.append(escape(model.rejected_because))
    return " · ".join(parts)


def models_message(versions: Sequence[ModelSummary]) -> dict[str, Any]:
    """Stored versions, newest first, with how to roll back."""
    if not versions:
        return text_message("No model has been trained yet. Start one with `/triage retrain`.")
    blocks = _lines_to_sections([_model_line(v) for v in versions])
    blocks.append(_context("Switch to another version with `/triage rollback VERSION`."))
    return {"text": f"{len(versions)} model versions", "blocks": blocks}


def _label_line(label: Label) -> str:
    line = f"• *{escape(label.name)}*"
    if label.description:
        line += f" — {escape(label.description)}"
    if label.route_channel:
        line += f" · → {channel_mention(label.route_channel)}"
    return line


def labels_message(labels: Sequence[Label]) -> dict[str, Any]:
    """Active labels with descriptions and routes; retired ones named at the end."""
    active = [label for label in labels if label.active]
    retired = [escape(label.name) for label in labels if not label.active]
    lines = [f"*{len(active)} active labels*", *(_label_line(label) for label in active)]
    if retired:
        lines.append(f"_Retired ({len(retired)}):_ " + ", ".join(retired))
    blocks = _lines_to_sections(lines)
    blocks.append(
        _context("Change with `/triage labels add|rename|retire|route`; see `/triage help`.")
    )
    return {"text": f"{len(active)} active labels", "blocks": blocks}


def reviewer_line(stats: ReviewerStats) -> str:
    """`<@U> · 12 answers · 92% of 5 checked agree with the final label · ... · median 3 min`."""
    parts = [person(stats.user), f"{counted(stats.answers, 'answer')}"]
    if stats.checked:
        parts.append(
            f"{_pct(stats.agreement)} of {stats.checked} checked agree with the final label"
        )
    else:
        parts.append("none checked by another person")
    estimate = stats.estimate
    if estimate is not None and estimate.evidence >= 1:
        low, high = estimate.interval
        parts.append(
            f"estimated accuracy {_pct(estimate.accuracy)} ({_pct(low)}–{_pct(high)}, "
            f"from {estimate.evidence:.0f} answers others or a confident model settled)"
        )
    if stats.audit_answers:
        parts.append(
            f"{_pct(stats.audit_agreement)} of {stats.audit_answers} audits confirm the model"
        )
    parts.append(f"median answer after {_latency(stats.median_response)}")
    return " · ".join(parts)


def reviewers_message(
    people: Sequence[ReviewerStats], days: int, *, own: bool = False
) -> dict[str, Any]:
    """Answers per person over the period, most active first (`own`: only the asker's)."""
    if not people:
        if own:
            return text_message(f"You answered no review in the last {days} days.")
        return text_message(f"Nobody answered a review in the last {days} days.")
    head = f"*Your answers, last {days} days*" if own else f"*Reviewers, last {days} days*"
    blocks = _lines_to_sections([head, *(reviewer_line(p) for p in people)])
    blocks.append(
        _context(
            "An answer is checked when the final label did not rest on it alone: someone else "
            "decided the ticket, or gave the same answer. Audits are compared with the model. "
            "Estimated accuracy weighs everyone's answers by how often each is right "
            "(Dawid–Skene), with a 95% interval."
        )
    )
    return {"text": f"{len(people)} reviewers in the last {days} days", "blocks": blocks}

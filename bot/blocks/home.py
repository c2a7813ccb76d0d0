"""The App Home tab: service state in one line, what waits for review, the person's week."""

from __future__ import annotations

from typing import Any

from bot.blocks.commands import pending_lines, precision_text
from bot.blocks.text import escape
from bot.blocks.topics import suggestion_blocks
from bot.services.stats import HomeFigures
from bot.words import counted

HOME_RETRAIN = "triage_home_retrain"
HOME_PAUSE = "triage_home_pause"
HOME_RESUME = "triage_home_resume"
HOME_ACTIONS = (HOME_RETRAIN, HOME_PAUSE, HOME_RESUME)
LABEL_OVERRIDES_SHOWN = 5


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(action_id: str, text: str, style: str | None = None) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": action_id,
    }
    return button | ({"style": style} if style else {})


def state_line(figures: HomeFigures) -> str:
    """🟢 running · model v7 (accuracy 91%) · 68% automated · audit precision … this week."""
    stats = figures.service
    parts = ["⏸️ *paused*: every ticket goes to review" if figures.policy.paused else "🟢 running"]
    if figures.model_version is None:
        parts.append("no model yet: every ticket goes to review")
    else:
        accuracy = (
            "" if figures.model_accuracy is None else f" (accuracy {figures.model_accuracy:.0%})"
        )
        parts.append(f"model v{figures.model_version}{accuracy}")
    if stats.automation_rate is not None:
        parts.append(f"{stats.automation_rate:.0%} automated")
    parts.append(f"audit precision {precision_text(stats)}")
    return " · ".join(parts) + f" · last {stats.days} days"


def _bar(value: float) -> str:
    return "never" if value > 1 else f"{value:.2f}"


def threshold_line(figures: HomeFigures) -> str:
    """The bar tickets must clear now: the admins' or the model's, and what differs per label."""
    policy, tuned = figures.policy, figures.tuned
    if policy.threshold is not None:
        line = f"Threshold {policy.threshold:.2f} for all labels"
    elif tuned is None:
        line = "No thresholds until a model is trained"
    elif tuned.per_label:
        line = (
            f"Model's threshold {_bar(tuned.default)}, "
            f"{counted(len(tuned.per_label), 'label')} with their own"
        )
    else:
        line = f"Model's threshold {_bar(tuned.default)} for all labels"
    overrides = sorted(policy.label_thresholds.items())
    if overrides:
        shown = ", ".join(
            f"{escape(name)} {value:.2f}" for name, value in overrides[:LABEL_OVERRIDES_SHOWN]
        )
        more = len(overrides) - LABEL_OVERRIDES_SHOWN
        line += f" · overrides: {shown}" + (f" and {more} more" if more > 0 else "")
    never = 0 if tuned is None else len(tuned.never_auto)
    if never:
        line += f" · {counted(never, 'label')} never automatic (too few examples)"
    return (
        line
        + f" · floor {policy.confidence_floor:.0%} per ticket"
        + f" · audit rate {policy.audit_rate:.0%} · quorum {policy.quorum}"
        + f" · target precision {policy.target_precision:.0%}"
    )


def _waiting(figures: HomeFigures, links: dict[int, str]) -> list[dict[str, Any]]:
    total = figures.service.pending
    if total == 0:
        return [_section("*Waiting for review*\nNothing is waiting. 🎉")]
    lines = [f"*Waiting for review: {total}*", *pending_lines(figures.waiting, links)]
    return [_section("\n".join(lines))]


def _your_week(figures: HomeFigures) -> list[dict[str, Any]]:
    mine = figures.mine
    if mine is None:
        return [_section("*Your week*\nNo answers yet this week.")]
    parts = [counted(mine.answers, "answer")]
    if mine.agreement is not None:
        parts.append(
            f"{mine.agreement:.0%} agree with the final label on "
            f"{counted(mine.checked, 'ticket')} decided with someone else"
        )
    else:
        parts.append("agreement not measured yet")
    estimate = mine.estimate
    if estimate is not None and estimate.evidence >= 1:
        low, high = estimate.interval
        parts.append(
            f"estimated accuracy {estimate.accuracy:.0%} ({low:.0%}–{high:.0%}, "
            f"from {estimate.evidence:.0f} answers others or a confident model settled)"
        )
    if mine.audit_answers:
        parts.append(
            f"the model's label matched yours in {mine.audit_agreed} of "
            f"{counted(mine.audit_answers, 'blind audit')}"
        )
    quorum = figures.policy.quorum
    note = (
        "Agreement only counts tickets whose final label did not rest on your answer alone: "
        "someone else decided it, or gave the same answer. "
        + (
            "One answer decides a ticket now, so few of yours can be compared."
            if quorum == 1
            else f"A ticket now needs {quorum} matching answers."
        )
    )
    return [_section("*Your week*\n" + " · ".join(parts)), _context(note)]


def _admin_actions(figures: HomeFigures) -> dict[str, Any]:
    toggle = (
        _button(HOME_RESUME, "Resume automatic labels", "primary")
        if figures.policy.paused
        else _button(HOME_PAUSE, "Pause automatic labels", "danger")
    )
    return {"type": "actions", "elements": [_button(HOME_RETRAIN, "Retrain now"), toggle]}


def build_home_view(
    figures: HomeFigures, *, links: dict[int, str], admin: bool, notice: str | None = None
) -> dict[str, Any]:
    """The whole home view for one person (admins also get the control buttons)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Ticket triage"}},
        _section(state_line(figures)),
        _context(threshold_line(figures)),
    ]
    if notice:
        blocks.append(_section(notice))
    blocks += [{"type": "divider"}, *_waiting(figures, links), {"type": "divider"}]
    blocks += _your_week(figures)
    if admin:
        blocks += [
            {"type": "divider"},
            _section("*Admin*"),
            _admin_actions(figures),
            _context("The same as `/triage retrain`, `/triage pause` and `/triage resume`."),
        ]
        if figures.suggestions:
            blocks += [
                {"type": "divider"},
                _section("*Label suggestions from new topics*"),
                *suggestion_blocks(figures.suggestions),
            ]
    return {"type": "home", "blocks": blocks}

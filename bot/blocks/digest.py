"""The daily digest in the alerts channel: yesterday in numbers, and the model in force."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.blocks.text import escape
from bot.services.digest import DigestFigures
from bot.words import counted, duration, powered_audit


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _threshold(value: float | None) -> str:
    return "never" if value is None or value > 1 else f"{value:.2f}"


LABELS_SHOWN = 5


def describe_model(
    model_version: int | None,
    default_threshold: float | None,
    label_thresholds: Mapping[str, float | None],
    never_auto: int,
) -> str:
    """`v7, threshold 0.82 · per label: a 0.90, b 0.70 (+3 more) · never automatic: 2 labels`."""
    if model_version is None:
        return "no active model (everything goes to review)"
    parts = [f"v{model_version}, threshold {_threshold(default_threshold)}"]
    if label_thresholds:
        named = sorted(label_thresholds.items())
        shown = ", ".join(f"{escape(label)} {_threshold(v)}" for label, v in named[:LABELS_SHOWN])
        more = len(named) - LABELS_SHOWN
        parts.append(f"per label: {shown}" + (f" (+{more} more)" if more > 0 else ""))
    if never_auto:
        parts.append(f"never automatic: {counted(never_auto, 'label')} (too few examples)")
    return " · ".join(parts)


def build_digest(stats: DigestFigures) -> dict[str, Any]:
    """The digest for one day's figures, the active model and the thresholds in force (the
    tuned ones with the admins' overrides on top)."""
    audit = "no audits answered"
    if stats.audit_precision is not None and stats.audit_interval is not None:
        low, high = stats.audit_interval
        audit = f"{stats.audit_precision:.1%} ({low:.1%}–{high:.1%}) on {stats.audit_total} audits"
        if stats.audit_corrected is not None and stats.audit_label_error is not None:
            value, low, high = stats.audit_corrected
            audit = (
                f"{value:.1%} ({low:.1%}–{high:.1%}) corrected for an estimated "
                f"{stats.audit_label_error:.1%} of wrong audit answers; measured {audit}"
            )
        if stats.audit_estimate is not None:
            words = powered_audit(
                stats.audit_estimate,
                audits=stats.powered_audits,
                automated=stats.powered_automated,
                label_error=stats.audit_label_error,
            )
            audit = f"{words} · audit share: {audit}"
    latency = "–"
    if stats.review_latency_p50 is not None:
        latency = (
            f"p50 {duration(stats.review_latency_p50)}, "
            f"p90 {duration(stats.review_latency_p90 or 0)}"
        )
    model = describe_model(
        stats.model_version, stats.default_threshold, stats.label_thresholds, stats.never_auto
    )
    lines = [
        f"*Tickets in:* {stats.tickets_in} · automated {stats.automated} "
        f"({_rate(stats.automation_rate)}) · reviewed by people {stats.reviewed}",
        f"*Audit precision:* {audit}",
        f"*Review time:* {latency} · *waiting now:* {stats.pending}",
        f"*Model:* {model}" + (" · ⏸️ paused: everything goes to review" if stats.paused else ""),
        f"*Per ticket:* floor {stats.confidence_floor:.0%} · {stats.novel} unlike anything "
        f"learned sent to people"
        + (
            ""
            if stats.novelty_false_alarms is None
            else f" (detector's false alarms {stats.novelty_false_alarms:.1%} on held-out tickets)"
        )
        + f" · {stats.no_label} answered “none of these”",
    ]
    if stats.confused_pairs:
        pairs = ", ".join(
            f"{escape(a)} → {escape(b)} ({n})" for a, b, n in stats.confused_pairs[:3]
        )
        lines.append(f"*Most confused:* {pairs}")
    return {
        "text": f"Daily triage digest: {stats.tickets_in} tickets, "
        f"{_rate(stats.automation_rate)} automated",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "📊 Daily triage digest"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
    }

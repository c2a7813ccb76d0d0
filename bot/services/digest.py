"""The daily digest as data: yesterday's figures and the model and thresholds in force.

Queued in the outbox as JSON and worded by `bot.blocks.digest` when it is delivered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.services.policy import current_policy
from bot.services.stats import service_stats
from bot.settings import Settings
from classifier import Thresholds
from storage.queries.model_versions import active_version


def _bar(value: float) -> float | None:
    """A threshold as JSON stores it: None for "never" (infinity)."""
    return None if value > 1 else value


@dataclass(frozen=True)
class DigestFigures:
    """What the digest says about one day; `None` thresholds mean "never automatic"."""

    tickets_in: int
    automated: int
    automation_rate: float | None
    reviewed: int
    audit_total: int
    audit_precision: float | None
    audit_interval: tuple[float, float] | None
    review_latency_p50: float | None
    review_latency_p90: float | None
    pending: int
    model_version: int | None
    default_threshold: float | None
    paused: bool
    never_auto: int = 0  # labels never applied automatically (too few examples)
    label_thresholds: dict[str, float | None] = field(default_factory=dict)
    confused_pairs: tuple[tuple[str, str, int], ...] = ()
    confidence_floor: float = 0.0
    novel: int = 0  # sent to people as unlike anything the model learned
    no_label: int = 0  # answered "none of these"
    novelty_false_alarms: float | None = None  # the active detector's measured rate
    # Share of wrong audit answers, at least (bot.services.reliability.audit_answer_error),
    # and the audit precision with its interval corrected for it (None: no correction).
    audit_label_error: float | None = None
    audit_corrected: tuple[float, float, float] | None = None
    # The prediction-powered precision and interval (corrected like `audit_corrected` when
    # auditors' error is estimated), from how many audits and automated tickets' confidences.
    audit_estimate: tuple[float, float, float] | None = None
    powered_audits: int = 0
    powered_automated: int = 0

    def to_json(self) -> dict[str, Any]:
        """The figures as stored in the digest's outbox row."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DigestFigures:
        """The figures stored by `to_json` (JSON turned the tuples into lists)."""
        interval = data.get("audit_interval")
        corrected = data.get("audit_corrected")
        powered = data.get("audit_estimate")
        pairs = tuple((str(a), str(b), int(n)) for a, b, n in data.get("confused_pairs") or ())
        return cls(
            **{
                **data,
                "audit_interval": None if interval is None else (interval[0], interval[1]),
                "confused_pairs": pairs,
                "audit_corrected": None if corrected is None else tuple(corrected),
                "audit_estimate": None if powered is None else tuple(powered),
            }
        )


def digest_figures(*, session: Session, settings: Settings, now: datetime) -> DigestFigures:
    """The day up to `now`, the active model, and the thresholds admins left in force."""
    stats = service_stats(session=session, now=now, days=1)
    policy = current_policy(session=session, settings=settings)
    version = active_version(session=session)
    thresholds = (
        None if version is None else policy.thresholds_for(Thresholds.from_dict(version.thresholds))
    )
    never: frozenset[str] = frozenset() if thresholds is None else thresholds.never_auto
    per_label = {} if thresholds is None else dict(thresholds.per_label)
    return DigestFigures(
        tickets_in=stats.tickets_in,
        automated=stats.automated,
        automation_rate=stats.automation_rate,
        reviewed=stats.reviewed,
        audit_total=stats.audit_total,
        audit_precision=stats.audit_precision,
        audit_interval=stats.audit_interval,
        review_latency_p50=stats.review_latency_p50,
        review_latency_p90=stats.review_latency_p90,
        pending=stats.pending,
        model_version=None if version is None else version.id,
        default_threshold=None if thresholds is None else _bar(thresholds.default),
        paused=policy.paused,
        never_auto=len(never),
        label_thresholds={
            label: _bar(value) for label, value in per_label.items() if label not in never
        },
        confused_pairs=tuple(stats.confused_pairs),
        confidence_floor=policy.confidence_floor,
        novel=stats.novel,
        no_label=stats.no_label,
        novelty_false_alarms=((version.metrics or {}).get("novelty") or {}).get(
            "false_alarm_measured"
        )
        if version is not None
        else None,
        audit_label_error=stats.audit_label_error,
        audit_corrected=stats.corrected_audit,
        audit_estimate=stats.audit_estimate,
        powered_audits=0 if stats.audit_powered is None else stats.audit_powered.labelled,
        powered_automated=0 if stats.audit_powered is None else stats.audit_powered.predicted,
    )

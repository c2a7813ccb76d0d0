"""Admin changes to the running service: who may make them, and how each is recorded.

Every change writes the audit log (who, what, before, after) and queues its announcement in
the alerts channel in the caller's transaction, so a change is never silent and never lost.
A change is returned and queued as data (`AdminChange`); `bot.blocks.changes` words it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotAdmin
from bot.services.alerts_channel import queue_for_alerts
from bot.services.policy import (
    AUDIT_RATE,
    CONFIDENCE_FLOOR,
    LABEL_THRESHOLDS,
    PAUSED,
    QUORUM,
    RETRAIN_REQUESTED,
    TARGET_PRECISION,
    THRESHOLD,
    current_policy,
)
from bot.settings import Settings
from storage.models import Label, OutboxKind
from storage.queries.labels import label_by_name
from storage.queries.runtime_settings import runtime_settings, set_runtime_setting

MAX_QUORUM = 10
TARGET_RANGE = (0.5, 0.999)  # as TRIAGE_TARGET_PRECISION accepts


class ChangeKind(StrEnum):
    """What an admin changed; stored in announcements, so values never change meaning."""

    THRESHOLD = "threshold"  # before/after: the global bar, None for the model's tuned ones
    LABEL_THRESHOLD = "label_threshold"  # subject: the label; None removes its override
    TARGET_PRECISION = "target_precision"
    AUDIT_RATE = "audit_rate"
    QUORUM = "quorum"
    PAUSED = "paused"  # before/after: bool
    RETRAIN = "retrain"  # a request for the worker
    LABEL_ADDED = "label_added"  # subject: the label
    LABEL_RESTORED = "label_restored"  # a retired label brought back
    LABEL_RENAMED = "label_renamed"  # before: old name, after: new name
    LABEL_RETIRED = "label_retired"
    LABEL_ROUTED = "label_routed"  # subject: the label; before/after: route channel
    MODEL_ACTIVATED = "model_activated"  # before/after: active version id (None: none)
    CONFIDENCE_FLOOR = "confidence_floor"  # before/after: the least confidence per ticket
    TOPIC_LABEL_CREATED = "topic_label_created"  # subject: label; before: topic; after: re-asked
    TOPIC_DISMISSED = "topic_dismissed"  # subject: proposed label; before: topic id
    CALLBACKS_RETRIED = "callbacks_retried"  # subject: ticket id or None (all); after: count


@dataclass(frozen=True)
class AdminChange:
    """What an admin action did, as data: the admin's answer and the announcement word it.

    `before` and `after` are the values people see (JSON values); `changed` is False when
    the action found things already so, `announced` when an alerts-channel post was queued.
    """

    kind: ChangeKind
    subject: str | None = None
    before: Any = None
    after: Any = None
    changed: bool = True
    announced: bool = False

    def to_json(self) -> dict[str, Any]:
        """The change as stored in an announcement's outbox row."""
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "changed": self.changed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AdminChange:
        """The change stored by `to_json`."""
        return cls(
            ChangeKind(data["kind"]),
            data.get("subject"),
            data.get("before"),
            data.get("after"),
            changed=bool(data.get("changed", True)),
        )


def is_admin(user_id: str, settings: Settings, group_members: frozenset[str] = frozenset()) -> bool:
    """Admins are the Slack user ids in TRIAGE_ADMINS and the members of TRIAGE_ADMIN_GROUP
    (looked up by the caller, which owns the Slack client)."""
    return user_id in settings.admins or user_id in group_members


def require_admin(
    user_id: str, settings: Settings, what: str, group_members: frozenset[str] = frozenset()
) -> None:
    """Refuse `what` to anyone who is not an admin, naming who to ask."""
    if not is_admin(user_id, settings, group_members):
        raise NotAdmin(what, admins=tuple(sorted(settings.admins)), group=settings.admin_group)


def announce(
    change: AdminChange, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Queue the alerts-channel post for a change; `announced` says whether one was queued."""
    payload = {"change": change.to_json(), "actor": actor}
    queued = queue_for_alerts(
        OutboxKind.ANNOUNCEMENT, payload, session=session, settings=settings, now=now
    )
    return replace(change, announced=queued)


def change_setting(
    key: str,
    value: Any,
    change: AdminChange,
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: datetime,
) -> AdminChange:
    """Store a runtime setting, audited and announced; a no-op is neither."""
    if runtime_settings(session=session).get(key) == value:
        return replace(change, changed=False)
    set_runtime_setting(key, value, session=session, actor=actor, now=now)
    return announce(change, session=session, settings=settings, actor=actor, now=now)


def find_label(name: str, *, session: Session, active_only: bool = True) -> Label:
    """The label called `name`, or an error naming the closest existing names."""
    label = label_by_name(name, session=session)
    if label is not None and (label.active or not active_only):
        return label
    query = select(Label.name)
    if active_only:
        query = query.where(Label.active)
    close = difflib.get_close_matches(name, list(session.scalars(query)), n=3, cutoff=0.5)
    hint = " Did you mean " + ", ".join(f"`{c}`" for c in close) + "?" if close else ""
    state = "retired" if label is not None else "unknown"
    raise InvalidInput(f"Label `{name}` is {state}.{hint}")


def set_threshold(
    value: float | None, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """One bar for every label (None: back to the thresholds tuned for the model)."""
    before = current_policy(session=session, settings=settings).threshold
    change = AdminChange(ChangeKind.THRESHOLD, before=before, after=value)
    return change_setting(
        THRESHOLD, value, change, session=session, settings=settings, actor=actor, now=now
    )


def set_label_threshold(
    label: str,
    value: float | None,
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: datetime,
) -> AdminChange:
    """Override one label's bar (None removes the override)."""
    find_label(label, session=session)
    overrides = dict(current_policy(session=session, settings=settings).label_thresholds)
    before = overrides.get(label)
    if value is None:
        overrides.pop(label, None)
    else:
        overrides[label] = value
    change = AdminChange(ChangeKind.LABEL_THRESHOLD, label, before, value)
    return change_setting(
        LABEL_THRESHOLDS,
        overrides,
        change,
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )


def set_target_precision(
    value: float, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """The precision the next retraining tunes thresholds for."""
    low, high = TARGET_RANGE
    if not low < value <= high:
        raise InvalidInput(f"The target precision must be above {low} and at most {high}.")
    before = current_policy(session=session, settings=settings).target_precision
    change = AdminChange(ChangeKind.TARGET_PRECISION, before=before, after=value)
    return change_setting(
        TARGET_PRECISION, value, change, session=session, settings=settings, actor=actor, now=now
    )


def set_audit_rate(
    value: float, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """The share of confident tickets sampled for a blind check."""
    before = current_policy(session=session, settings=settings).audit_rate
    change = AdminChange(ChangeKind.AUDIT_RATE, before=before, after=value)
    return change_setting(
        AUDIT_RATE, value, change, session=session, settings=settings, actor=actor, now=now
    )


def set_confidence_floor(
    value: float, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """The least confidence any one ticket needs to be labelled automatically."""
    if not 0.0 <= value <= 1.0:
        raise InvalidInput("The confidence floor must be a number from 0 to 1.")
    before = current_policy(session=session, settings=settings).confidence_floor
    change = AdminChange(ChangeKind.CONFIDENCE_FLOOR, before=before, after=value)
    return change_setting(
        CONFIDENCE_FLOOR, value, change, session=session, settings=settings, actor=actor, now=now
    )


def set_quorum(
    value: int, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """How many matching answers decide a ticket."""
    if not 1 <= value <= MAX_QUORUM:
        raise InvalidInput(f"The quorum must be a whole number from 1 to {MAX_QUORUM}.")
    before = current_policy(session=session, settings=settings).quorum
    change = AdminChange(ChangeKind.QUORUM, before=before, after=value)
    return change_setting(
        QUORUM, value, change, session=session, settings=settings, actor=actor, now=now
    )


def set_paused(
    paused: bool, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Paused: every ticket goes to review, nothing is labelled automatically."""
    before = current_policy(session=session, settings=settings).paused
    change = AdminChange(ChangeKind.PAUSED, before=before, after=paused)
    if before == paused:
        return replace(change, changed=False)
    return change_setting(
        PAUSED, paused, change, session=session, settings=settings, actor=actor, now=now
    )


def request_retraining(
    *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Ask the worker to retrain: training never runs in the web process."""
    value = {"by": actor, "at": now.isoformat()}
    return change_setting(
        RETRAIN_REQUESTED,
        value,
        AdminChange(ChangeKind.RETRAIN),
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )

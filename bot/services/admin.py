"""Admin changes to the running service: who may make them, and how each is recorded.

Every change writes the audit log (who, what, before, after) and queues its announcement in
the alerts channel in the caller's transaction, so a change is never silent and never lost.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks.commands import build_announcement
from bot.blocks.text import escape
from bot.errors import Forbidden, InvalidInput
from bot.services.alerts_channel import post_to_alerts
from bot.services.policy import (
    AUDIT_RATE,
    LABEL_THRESHOLDS,
    PAUSED,
    QUORUM,
    RETRAIN_REQUESTED,
    TARGET_PRECISION,
    THRESHOLD,
    current_policy,
)
from bot.settings import Settings
from storage.models import Label
from storage.queries.labels import label_by_name
from storage.queries.runtime_settings import runtime_settings, set_runtime_setting

MAX_QUORUM = 10
TARGET_RANGE = (0.5, 0.999)  # as TRIAGE_TARGET_PRECISION accepts


@dataclass(frozen=True)
class AdminChange:
    """What an admin action did, in words for the answer and the announcement."""

    summary: str
    before: Any = None
    after: Any = None
    changed: bool = True
    announced: bool = False


def is_admin(user_id: str, settings: Settings, group_members: frozenset[str] = frozenset()) -> bool:
    """Admins are the Slack user ids in TRIAGE_ADMINS and the members of TRIAGE_ADMIN_GROUP
    (looked up by the caller, which owns the Slack client)."""
    return user_id in settings.admins or user_id in group_members


def require_admin(
    user_id: str, settings: Settings, what: str, group_members: frozenset[str] = frozenset()
) -> None:
    """Refuse `what` to anyone who is not an admin, naming who to ask."""
    if is_admin(user_id, settings, group_members):
        return
    whom = [f"<@{admin}>" for admin in sorted(settings.admins)]
    if settings.admin_group:
        whom.append(f"<!subteam^{settings.admin_group}>")
    ask = ", ".join(whom) or "your Slack admin"
    raise Forbidden(f"Only triage admins can {what}. Ask {ask}.")


def announce(
    summary: str, *, session: Session, settings: Settings, actor: str, now: datetime
) -> bool:
    """Queue the alerts-channel post for a change; False when no alerts channel is set."""
    return post_to_alerts(
        build_announcement(actor, summary), session=session, settings=settings, now=now
    )


def change_setting(
    key: str,
    value: Any,
    summary: str,
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: datetime,
) -> AdminChange:
    """Store a runtime setting, audited and announced; a no-op is neither."""
    before = runtime_settings(session=session).get(key)
    if before == value:
        return AdminChange(summary, before, value, changed=False)
    set_runtime_setting(key, value, session=session, actor=actor, now=now)
    announced = announce(summary, session=session, settings=settings, actor=actor, now=now)
    return AdminChange(summary, before, value, announced=announced)


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
    raise InvalidInput(f"Label `{escape(name)}` is {state}.{hint}")


def _share(value: float | None) -> str:
    return "the model's tuned thresholds" if value is None else f"{value:.2f}"


def set_threshold(
    value: float | None, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """One bar for every label (None: back to the thresholds tuned for the model)."""
    before = current_policy(session=session, settings=settings).threshold
    target = "all labels" if value is not None else "every label"
    summary = f"Threshold for {target} set to {_share(value)} (was {_share(before)})."
    return change_setting(
        THRESHOLD, value, summary, session=session, settings=settings, actor=actor, now=now
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
    summary = f"Threshold for {escape(label)} set to {_share(value)} (was {_share(before)})."
    return change_setting(
        LABEL_THRESHOLDS,
        overrides,
        summary,
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
    summary = (
        f"Target precision set to {value:.1%} (was {before:.1%}); "
        "the next retraining tunes thresholds for it."
    )
    return change_setting(
        TARGET_PRECISION, value, summary, session=session, settings=settings, actor=actor, now=now
    )


def set_audit_rate(
    value: float, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """The share of confident tickets sampled for a blind check."""
    before = current_policy(session=session, settings=settings).audit_rate
    summary = f"Audit rate set to {value:.1%} of automatic tickets (was {before:.1%})."
    return change_setting(
        AUDIT_RATE, value, summary, session=session, settings=settings, actor=actor, now=now
    )


def set_quorum(
    value: int, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """How many matching answers decide a ticket."""
    if not 1 <= value <= MAX_QUORUM:
        raise InvalidInput(f"The quorum must be a whole number from 1 to {MAX_QUORUM}.")
    before = current_policy(session=session, settings=settings).quorum
    summary = f"Quorum set to {value} matching answer(s) (was {before})."
    return change_setting(
        QUORUM, value, summary, session=session, settings=settings, actor=actor, now=now
    )


def set_paused(
    paused: bool, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Paused: every ticket goes to review, nothing is labelled automatically."""
    summary = (
        "Automatic labelling paused: every ticket now goes to review."
        if paused
        else "Automatic labelling resumed."
    )
    before = current_policy(session=session, settings=settings).paused
    if before == paused:
        state = "already paused" if paused else "not paused"
        return AdminChange(f"Automatic labelling is {state}.", before, paused, changed=False)
    return change_setting(
        PAUSED, paused, summary, session=session, settings=settings, actor=actor, now=now
    )


def request_retraining(
    *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Ask the worker to retrain: training never runs in the web process."""
    value = {"by": actor, "at": now.isoformat()}
    return change_setting(
        RETRAIN_REQUESTED,
        value,
        "Retraining requested.",
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )

"""Admin changes to the label set: add, rename, retire, route. Labels are never deleted."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.services.admin import AdminChange, ChangeKind, announce, find_label
from bot.services.policy import LABEL_RENAMES, LABEL_THRESHOLDS, current_policy
from bot.settings import Settings
from storage.models import Label, ModelVersion, Review, Ticket
from storage.queries.labels import label_by_name
from storage.queries.runtime_settings import (
    record_admin_action,
    runtime_settings,
    set_runtime_setting,
)

LABEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/-]{0,99}$")
MAX_DESCRIPTION = 500


def all_labels(*, session: Session) -> list[Label]:
    """Every label, active first, then by name."""
    return list(session.scalars(select(Label).order_by(Label.active.desc(), Label.name)))


def _check_name(name: str) -> None:
    if not LABEL_NAME.match(name):
        raise InvalidInput(
            f"`{name}` is not a valid label name: up to 100 letters, digits or _ . : / -, "
            "starting with a letter or digit."
        )


def _record(
    action: str,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    change: AdminChange,
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: datetime,
) -> AdminChange:
    """Audit the change (`before`/`after` as stored) and announce it."""
    record_admin_action(
        action=action, before=before, after=after, session=session, actor=actor, now=now
    )
    return announce(change, session=session, settings=settings, actor=actor, now=now)


def add_label(
    name: str,
    description: str | None,
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: datetime,
) -> AdminChange:
    """Create a label (or bring a retired one back) that people can pick at once."""
    _check_name(name)
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"The description is limited to {MAX_DESCRIPTION} characters.")
    label = label_by_name(name, session=session)
    if label is not None and label.active:
        raise InvalidInput(f"Label `{name}` already exists.")
    if label is None:
        label = Label(name=name, description=description, active=True, created_at=now)
        session.add(label)
        before = None
        change = AdminChange(ChangeKind.LABEL_ADDED, name)
    else:
        before = {"name": name, "active": False, "description": label.description}
        label.active = True
        label.description = description or label.description
        change = AdminChange(ChangeKind.LABEL_RESTORED, name)
    after = {"name": name, "active": True, "description": label.description}
    return _record(
        "add label",
        before,
        after,
        change,
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )


def rename_label(
    old: str, new: str, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Rename a label everywhere it is used, so training data keeps one name per category.

    Stored models still say the old name until the next retraining; the rename is kept in
    the policy so their predictions arrive under the new name, with its route and bar.
    """
    label = find_label(old, session=session, active_only=False)
    _check_name(new)
    if label_by_name(new, session=session) is not None:
        raise InvalidInput(f"Label `{new}` already exists; pick another name.")
    label.name = new
    for column in (Ticket.final_label, Ticket.predicted_label):
        session.execute(update(Ticket).where(column == old).values({column: new}))
    session.execute(update(Review).where(Review.label == old).values(label=new))
    overrides = dict(current_policy(session=session, settings=settings).label_thresholds)
    if old in overrides:
        overrides[new] = overrides.pop(old)
        set_runtime_setting(LABEL_THRESHOLDS, overrides, session=session, actor=actor, now=now)
    newest_model = session.scalar(select(func.max(ModelVersion.id))) or 0
    renames = [
        *(runtime_settings(session=session).get(LABEL_RENAMES) or []),
        [old, new, newest_model],
    ]
    set_runtime_setting(LABEL_RENAMES, renames, session=session, actor=actor, now=now)
    return _record(
        "rename label",
        {"name": old},
        {"name": new},
        AdminChange(ChangeKind.LABEL_RENAMED, old, before=old, after=new),
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )


def retire_label(
    name: str, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Stop offering a label; its tickets and answers stay for history.

    The model in use may still predict it: such tickets go to review (see
    `Policy.thresholds_for`), and retraining leaves the label's tickets out.
    """
    label = find_label(name, session=session)
    label.active = False
    return _record(
        "retire label",
        {"name": name, "active": True},
        {"name": name, "active": False},
        AdminChange(ChangeKind.LABEL_RETIRED, name),
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )


def route_label(
    name: str, channel: str, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Post tickets given this label to `channel` from now on."""
    label = find_label(name, session=session)
    before = label.route_channel
    change = AdminChange(ChangeKind.LABEL_ROUTED, name, before, channel)
    if before == channel:
        return replace(change, changed=False)
    label.route_channel = channel
    return _record(
        "route label",
        {"name": name, "route_channel": before},
        {"name": name, "route_channel": channel},
        change,
        session=session,
        settings=settings,
        actor=actor,
        now=now,
    )

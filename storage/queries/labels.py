"""Labels: the categories a ticket can get."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Label


def active_labels(*, session: Session) -> list[Label]:
    """Labels people may choose, alphabetically (the order the Slack select shows)."""
    return list(session.scalars(select(Label).where(Label.active).order_by(Label.name)))


def active_label_names(*, session: Session) -> list[str]:
    """The names of `active_labels`, in the same order, without loading each label."""
    return list(session.scalars(select(Label.name).where(Label.active).order_by(Label.name)))


def label_by_name(name: str, *, session: Session) -> Label | None:
    """The label called `name`, active or not."""
    return session.scalars(select(Label).where(Label.name == name)).one_or_none()


def ensure_labels(names: Iterable[str], *, session: Session, now: datetime) -> list[str]:
    """Create the labels that do not exist yet; return the names that were new."""
    wanted = set(names)
    existing = set(session.scalars(select(Label.name).where(Label.name.in_(wanted))))
    created = sorted(wanted - existing)
    session.add_all(Label(name=name, active=True, created_at=now) for name in created)
    return created

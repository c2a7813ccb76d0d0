"""Runtime settings admins change while the service runs, with an audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditLogEntry, RuntimeSetting


def runtime_settings(*, session: Session) -> dict[str, Any]:
    """Every stored override, by key."""
    return {row.key: row.value for row in session.scalars(select(RuntimeSetting))}


def set_runtime_setting(
    key: str, value: Any, *, session: Session, actor: str, now: datetime
) -> Any:
    """Store `value` under `key`, log the change, and return the previous value."""
    row = session.get(RuntimeSetting, key)
    before = None if row is None else row.value
    if row is None:
        session.add(RuntimeSetting(key=key, value=value, updated_at=now, updated_by=actor))
    else:
        row.value, row.updated_at, row.updated_by = value, now, actor
    record_admin_action(
        action=f"set {key}",
        before={key: before},
        after={key: value},
        session=session,
        actor=actor,
        now=now,
    )
    return before


def record_admin_action(
    *,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    session: Session,
    actor: str,
    now: datetime,
) -> None:
    """Append one entry to the audit log."""
    session.add(AuditLogEntry(at=now, actor=actor, action=action, before=before, after=after))

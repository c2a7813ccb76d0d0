"""Runtime settings admins change while the service runs, with an audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from storage.models import (
    AuditLogEntry,
    Label,
    RuntimeSetting,
    Ticket,
    TicketStatus,
    Topic,
    TopicStatus,
)


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


def policy_stamp(*, session: Session) -> tuple[Any, ...]:
    """A cheap fingerprint of everything the intake policy is read from, in one query.

    It changes whenever the policy may have: an admin change (every one is logged, so the
    log's newest id moves), a runtime setting written or removed, a label added or retired,
    a topic found or settled, a ticket joining a topic (which can hold a label back), a
    "none of these" answer given, undone or erased, a ticket labelled with a topic's label
    no model has learned yet (intake holds look-alikes of those tickets: the model cannot
    give them their label). A process keeps its policy while the stamp stays the same.
    """
    dialect = session.get_bind().dialect
    compiled = _STAMP_SQL.get(dialect.name)
    if compiled is None:
        compiled = _STAMP_SQL[dialect.name] = _compiled_stamp(dialect)
    return tuple(session.connection().exec_driver_sql(compiled).one())


# The stamp's SELECT compiled once per dialect, its constants written in: it is run for
# every intake batch and every review post, and building it and computing its cache key
# each time (twelve subqueries) cost fifteen times what SQLite took to run it. The values
# come back as the driver gives them, which is all a fingerprint compared with itself needs.
_STAMP_SQL: dict[str, str] = {}


def _compiled_stamp(dialect: Dialect) -> str:
    compiled = _policy_stamp_query().compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def _policy_stamp_query() -> Select[Any]:
    """The stamp's one SELECT."""
    unlearned = Topic.status.in_([TopicStatus.OPEN, TopicStatus.CREATED])
    created = select(Topic.label).where(Topic.status == TopicStatus.CREATED)
    parts = (
        select(func.max(AuditLogEntry.id)).scalar_subquery(),
        select(func.count()).select_from(RuntimeSetting).scalar_subquery(),
        select(func.max(RuntimeSetting.updated_at)).scalar_subquery(),
        select(func.count()).select_from(Label).scalar_subquery(),
        select(func.count()).select_from(Label).where(Label.active.is_(True)).scalar_subquery(),
        select(func.count()).select_from(Topic).scalar_subquery(),
        select(func.count()).select_from(Topic).where(unlearned).scalar_subquery(),
        select(func.count())
        .select_from(Topic)
        .where(Topic.status == TopicStatus.OPEN)
        .scalar_subquery(),
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.topic_id.is_not(None))
        .scalar_subquery(),
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.status == TicketStatus.NO_LABEL, Ticket.erased_at.is_(None))
        .scalar_subquery(),
        select(func.max(Ticket.id))
        .where(Ticket.status == TicketStatus.NO_LABEL, Ticket.erased_at.is_(None))
        .scalar_subquery(),
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.final_label.in_(created), Ticket.erased_at.is_(None))
        .scalar_subquery(),
    )
    return select(*parts)

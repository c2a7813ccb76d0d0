"""Model versions: store trained artifacts and switch the active one atomically."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import ModelStatus, ModelVersion


class ConcurrentActivation(StorageError):
    """Another process activated a model version in the same moment; this one changed nothing."""


def active_version(*, session: Session) -> ModelVersion | None:
    """The model every process should use now, or None before the first training."""
    query = select(ModelVersion).where(ModelVersion.status == ModelStatus.ACTIVE)
    return session.scalars(query).one_or_none()


def active_version_id(*, session: Session) -> int | None:
    """Just the id of the active model: a cheap check for processes polling for a new one."""
    query = select(ModelVersion.id).where(ModelVersion.status == ModelStatus.ACTIVE)
    return session.scalars(query).one_or_none()


def version_by_id(version_id: int, *, session: Session) -> ModelVersion | None:
    """One stored version."""
    return session.get(ModelVersion, version_id)


def list_versions(*, session: Session, limit: int = 20) -> list[ModelVersion]:
    """Newest versions first."""
    query = select(ModelVersion).order_by(ModelVersion.id.desc()).limit(limit)
    return list(session.scalars(query))


def activate(version: ModelVersion, *, session: Session, now: datetime) -> None:
    """Make `version` the only active model, the previous one retired, in the caller's transaction.

    The demotion is flushed before the promotion, so the partial unique index (one row with
    status 'active') holds at every statement. Two activations racing on PostgreSQL: the
    second waits on the first's row lock, finds the winner active, and its promotion breaks
    the index, which is reported as `ConcurrentActivation` instead of a second active row.
    """
    version_id = version.id  # the row cannot be read once a failed flush spoils the session
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.status == ModelStatus.ACTIVE, ModelVersion.id != version_id)
        .values(status=ModelStatus.RETIRED)
    )
    version.status = ModelStatus.ACTIVE
    version.activated_at = now
    try:
        session.flush()
    except IntegrityError:
        raise ConcurrentActivation(
            f"Model v{version_id} was not activated: another version was activated at the "
            "same moment. Nothing changed; look at the versions again and retry."
        ) from None


def prune_artifacts(*, session: Session, keep: int) -> int:
    """Drop the stored bytes of all but the newest `keep` versions and the active one.

    A model is 23 MB at 10,000 tickets and 106 MB at 100,000 (BENCHMARKS.md); kept for every
    retraining they would fill the database. Rows and metrics stay, so history still shows
    what each version measured. Returns how many artifacts were dropped.
    """
    newest = select(ModelVersion.id).order_by(ModelVersion.id.desc()).limit(keep)
    dropped: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(ModelVersion)
        .where(
            ModelVersion.artifact.is_not(None),
            ModelVersion.status != ModelStatus.ACTIVE,
            ModelVersion.id.not_in(newest.scalar_subquery()),
        )
        .values(artifact=None)
    )
    return dropped.rowcount

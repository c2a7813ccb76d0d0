"""Admin changes to which model runs: roll back (or forward) to a stored version."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.services.admin import AdminChange, ChangeKind, announce
from bot.services.models import activate_version
from bot.settings import Settings
from classifier import ModelIntegrityError
from storage.models import ModelStatus, ModelVersion
from storage.queries.model_versions import active_version_id, list_versions
from storage.queries.runtime_settings import record_admin_action

MODELS_SHOWN = 10


@dataclass(frozen=True)
class ModelSummary:
    """A stored version as `models` lists it: its headline figures from the fairest
    evaluation it has (the held-out answers, else cross-validation)."""

    version: int
    status: ModelStatus
    accuracy: float | None
    coverage: float | None  # share of tickets it would label automatically
    n_examples: int
    created_at: datetime
    gate: str | None  # why the promotion gate decided as it did
    novelty: dict[str, Any] | None = None  # its novelty detector's measured rates

    @property
    def rejected_because(self) -> str | None:
        """Why the gate refused it, worth showing beside a rejected version only."""
        return self.gate if self.status == ModelStatus.REJECTED else None

    @classmethod
    def of(cls, version: ModelVersion) -> ModelSummary:
        """The summary of one stored version."""
        metrics = version.metrics or {}
        measured = metrics.get("holdout") or metrics.get("cv") or {}
        return cls(
            version=version.id,
            status=version.status,
            accuracy=measured.get("accuracy"),
            coverage=measured.get("coverage"),
            n_examples=version.n_examples,
            created_at=version.created_at,
            gate=None if metrics.get("gate") is None else str(metrics["gate"]),
            novelty=metrics.get("novelty"),
        )


def recent_models(*, session: Session) -> list[ModelSummary]:
    """The newest stored versions, for `/triage models` and `triage models`."""
    return [ModelSummary.of(v) for v in list_versions(session=session, limit=MODELS_SHOWN)]


def rollback(
    version_id: int, *, session: Session, settings: Settings, actor: str, now: datetime
) -> AdminChange:
    """Make a stored version active; the caller must invalidate its model cache afterwards."""
    before = active_version_id(session=session)
    change = AdminChange(ChangeKind.MODEL_ACTIVATED, before=before, after=version_id)
    if before == version_id:
        return replace(change, changed=False)
    try:
        activate_version(version_id, session=session, now=now)
    except ModelIntegrityError as error:
        raise InvalidInput(f"Model v{version_id} cannot be loaded: {error}") from None
    record_admin_action(
        action="activate model",
        before={"active_version": before},
        after={"active_version": version_id},
        session=session,
        actor=actor,
        now=now,
    )
    return announce(change, session=session, settings=settings, actor=actor, now=now)

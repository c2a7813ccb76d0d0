"""Typed SQLAlchemy 2.x tables: the durable state shared by the web and worker processes."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from classifier.decision import Decision

State = TypeVar("State", bound=StrEnum)

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are aware UTC in Python on every database (SQLite alone would drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StateColumn(TypeDecorator[State], Generic[State]):
    """A state stored as its enum's string value and read back as the enum member.

    A value outside the enum is refused before it reaches the database, so a typo'd state
    in a query or a write fails loudly; the column stays a plain string (no migration).
    """

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[State], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: State | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(self.enum(value).value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> State | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    """Declarative base with a naming convention and timezone-aware timestamps."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class TicketStatus(StrEnum):
    """Where a ticket is in its life."""

    PENDING = "pending"  # waiting for a person to pick a label
    AUTO = "auto"  # labelled by the model (possibly also sampled for an audit)
    LABELLED = "labelled"  # labelled by a person
    IMPORTED = "imported"  # labelled history brought in by `triage import`
    NO_LABEL = "no_label"  # a person said none of the labels fits ("none of these")


class ModelStatus(StrEnum):
    """Life of a trained model version; exactly one is active at a time."""

    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"
    REJECTED = "rejected"


class ReviewKind(StrEnum):
    """Why a person was asked: an uncertain ticket, or a blind check of a confident one."""

    REVIEW = "review"
    AUDIT = "audit"


class Label(Base):
    """A category tickets can be given; retired labels stay for history."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    route_channel: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ModelVersion(Base):
    """A trained model stored as skops bytes, so every process loads the same version."""

    __tablename__ = "model_versions"
    __table_args__ = (
        # At most one active version, enforced by the database: a rollback racing a promotion
        # fails instead of leaving two active rows for every ticket to trip over.
        Index(
            "uq_model_versions_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[ModelStatus] = mapped_column(StateColumn(ModelStatus), index=True)
    # NULL once pruned (storage.queries.model_versions.prune_artifacts): metrics stay.
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    n_examples: Mapped[int] = mapped_column(Integer, default=0)
    n_answers: Mapped[int] = mapped_column(Integer, default=0)
    # Latest answer time among its training examples: answers after it are new to this model.
    data_cutoff: Mapped[datetime | None]
    created_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]


class Ticket(Base):
    """One support request and everything decided about it."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),
        Index("ix_tickets_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100), default="api")
    external_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    status: Mapped[TicketStatus] = mapped_column(StateColumn(TicketStatus))
    # What the decision rule chose (auto, audit, review); None for imported history.
    decision: Mapped[Decision | None] = mapped_column(StateColumn(Decision))
    predicted_label: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    final_label: Mapped[str | None] = mapped_column(String(100), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    # The model's top labels with probabilities, as shown on the review buttons.
    suggestions: Mapped[list[Any] | None] = mapped_column(JSON)
    # The confidence the predicted label had to reach to be applied automatically.
    threshold: Mapped[float | None] = mapped_column(Float)
    callback_url: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    # Where the review or audit message was posted, once the outbox delivered it.
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    # Stages of chasing a pending review; each happens at most once per ticket.
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    # How unlike the labelled history the model found it (0-1), and whether that sent it to
    # people whatever its confidence: past the detector's cutoff, or like an open new topic.
    novelty: Mapped[float | None] = mapped_column(Float)
    novel: Mapped[bool] = mapped_column(Boolean, default=False)
    # The new topic (a cluster of novel tickets) it belongs to, once one was found.
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"), index=True)
    # When its text, subject and metadata were removed (an erasure request or the retention
    # period); labels, answers and figures stay, but no model learns from it again.
    erased_at: Mapped[datetime | None]
    # Why its first answer waits for someone else's before it settles (a SecondOpinion
    # reason: a random share, the answer contradicted a confident model, an answerer
    # estimated often wrong); None: one answer (or the quorum) settles it.
    second_opinion: Mapped[str | None] = mapped_column(String(16))

    reviews: Mapped[list[Review]] = relationship(back_populates="ticket", order_by="Review.id")


class Review(Base):
    """One human answer; the history that retraining and reviewer statistics read."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    slack_user: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(100))  # None: a skip or "none of these"
    # "None of these": no label fits; with, optionally, the name the person would give one.
    no_label: Mapped[bool] = mapped_column(Boolean, default=False)
    proposed_label: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[ReviewKind] = mapped_column(StateColumn(ReviewKind))
    created_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="reviews")


class TopicStatus(StrEnum):
    """Life of a new topic: found, then turned into a label, dismissed, or learned."""

    OPEN = "open"  # similar tickets go to people; admins see a label suggestion
    CREATED = "created"  # an admin created its label and re-asked its tickets
    DISMISSED = "dismissed"  # an admin said it is not a new kind of ticket
    LEARNED = "learned"  # every ticket was answered and a model trained on them went live


class Topic(Base):
    """A cluster of tickets unlike any label that arrived close together: a new topic.

    While open, an arriving ticket like it (cosine similarity to the centroid at least
    `radius`) is novel too, so people see the whole topic until it is labelled and learned.
    """

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[TopicStatus] = mapped_column(StateColumn(TopicStatus), index=True)
    proposed_label: Mapped[str] = mapped_column(String(100))
    keywords: Mapped[list[Any]] = mapped_column(JSON)
    centroid: Mapped[list[Any]] = mapped_column(JSON)  # unit embedding (classifier.embed)
    radius: Mapped[float] = mapped_column(Float)
    found_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(100))  # the label created from it


class AuditLogEntry(Base):
    """Who changed what, with the value before and after, for every admin action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RuntimeSetting(Base):
    """A value admins change while the service runs (threshold, audit rate, pause...)."""

    __tablename__ = "runtime_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))


class OutboxKind(StrEnum):
    """What a pending delivery does; messages are rendered from the ticket at delivery time."""

    POST_TICKET = "post_ticket"  # review or audit message in the review channel
    REFRESH_TICKET = "refresh_ticket"  # chat.update of that message from the current state
    THREAD_REPLY = "thread_reply"  # text reply in a ticket's thread (long text, intake outcome)
    ROUTE = "route"  # the labelled ticket posted to its label's route channel
    CALLBACK = "callback"  # the outcome POSTed to the ticket's callback_url
    ANNOUNCEMENT = "announcement"  # an admin change for the alerts channel: its AdminChange data
    DIGEST = "digest"  # the daily digest for the alerts channel: its figures as data
    ALERT = "alert"  # an ops alert, posted or edited from its row's current state
    # chat.update of a bot message that quoted an erased ticket's text: its channel and ts
    ERASE_MESSAGE = "erase_message"
    # A finished Slack message. Nothing queues one since migration 0006 (announcements and
    # digests travel as data); rows queued before it are still delivered.
    CHANNEL_MESSAGE = "channel_message"


class OutboxMessage(Base):
    """A Slack post or callback written in the same transaction as the change it reports.

    Slack being down or rate-limiting never loses or blocks anything: the row waits with its
    next attempt time until a deliverer (web or worker process) gets it through. Its states:
    pending (`delivered_at` and `dead_at` empty), delivered, or dead (a callback given up on).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(StateColumn(OutboxKind, 32))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A callback given up on (too many attempts or too old): a dead letter, never tried
    # again until an admin retries it, which clears this and restarts the count from then.
    dead_at: Mapped[datetime | None]
    retried_at: Mapped[datetime | None]


class Lease(Base):
    """A named lock with an expiry: the worker holding it runs the scheduler.

    A crashed holder stops renewing, so another worker takes over once `expires_at` passes.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class WorkerHeartbeat(Base):
    """One worker process's latest sign of life, and whether it held the scheduler lease.

    Written in the same transaction as each lease renewal (every third of the lease), so the
    web process and `triage worker --check` can tell a leader, a live standby and a dead one
    apart. `led_at` outlives the term: how long no worker has led is known after a shutdown.
    """

    __tablename__ = "worker_heartbeats"

    holder: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(128), index=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    leading: Mapped[bool] = mapped_column(Boolean, default=False)
    leading_since: Mapped[datetime | None]
    led_at: Mapped[datetime | None]  # the last beat while holding the lease


class TrainingRunStatus(StrEnum):
    """How a retraining ended; RUNNING rows with a stale heartbeat were killed."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"  # stopped on purpose (SIGTERM)
    INTERRUPTED = "interrupted"  # found running with no heartbeat: the process died


class TrainingRun(Base):
    """One retraining attempt, so a crash or kill is noticed and reported afterwards."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(64))
    status: Mapped[TrainingRunStatus] = mapped_column(StateColumn(TrainingRunStatus), index=True)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    error: Mapped[str | None] = mapped_column(Text)
    # The worker (its lease holder name) running it; None for `triage train` in a shell.
    worker: Mapped[str | None] = mapped_column(String(128))


class Alert(Base):
    """One alert message in the ops channel, with the repeats counted into it.

    A persisting problem does not post again within the cooldown: the repeat bumps `repeats`
    and its newest content, and the posted message is edited to show them, as ops expect.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    content: Mapped[dict[str, Any]]  # severity, headline, what_to_do, details (newest)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    raised_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))


class AlertState(Base):
    """Per alert key: when its current message was posted, and which message that is.

    The row is also the lock that keeps two raisers of the same alert from both posting.
    """

    __tablename__ = "alert_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_sent_at: Mapped[datetime]
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))


class ScheduleSlot(Base):
    """The latest slot a scheduled job ran for (the digest's day), so a leader that takes over
    after a missed slot runs it once, late, and two leaders never both run one slot."""

    __tablename__ = "schedule_slots"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[datetime]
    claimed_at: Mapped[datetime]

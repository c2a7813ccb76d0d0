"""Ticket intake: classify, decide auto / audit / review, store, and queue what must be sent.

Everything a ticket causes in Slack or at its callback URL is written to the outbox in the
same transaction as the ticket, so the API answers at once and nothing is lost when Slack is
down. The model runs before the transaction opens: a lock is never held during inference.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInput
from bot.services.classification import Classification, classify_texts
from bot.services.models import LoadedModel
from bot.services.policy import Policy
from bot.services.routing import routing_messages
from bot.services.ticket_text import TextProblem, clean_ticket_text, contains_nul
from classifier import Decision, Thresholds
from storage.database import unit_of_work
from storage.models import OutboxKind, Ticket, TicketStatus
from storage.queries.labels import label_by_name
from storage.queries.outbox import enqueue

MAX_SOURCE_LENGTH = 100
MAX_EXTERNAL_ID_LENGTH = 255


@dataclass(frozen=True)
class NewTicket:
    """A validated request to create a ticket."""

    text: str
    source: str = "api"
    external_id: str | None = None
    subject: str | None = None
    callback_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeResult:
    """The stored ticket, and whether this call created it (False: an earlier duplicate)."""

    ticket: Ticket
    created: bool


def validate_new_ticket(
    *,
    text: Any,
    source: Any = None,
    external_id: Any = None,
    subject: Any = None,
    callback_url: Any = None,
    metadata: Any = None,
) -> NewTicket:
    """Check loosely typed input (JSON, Slack) and say precisely what is wrong."""
    if not isinstance(text, str):
        raise InvalidInput("text is required and must be a string", field="text")
    try:
        cleaned = clean_ticket_text(text)
    except TextProblem as problem:
        raise InvalidInput(f"text: {problem.reason}", field="text") from None
    source = "api" if source is None else source
    if not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE_LENGTH:
        raise InvalidInput(
            f"source must be a non-empty string of at most {MAX_SOURCE_LENGTH}", field="source"
        )
    if external_id is not None and (
        not isinstance(external_id, str | int)
        or isinstance(external_id, bool)
        or not str(external_id).strip()
        or len(str(external_id)) > MAX_EXTERNAL_ID_LENGTH
    ):
        raise InvalidInput(
            f"external_id must be a non-empty string of at most {MAX_EXTERNAL_ID_LENGTH}",
            field="external_id",
        )
    if subject is not None and (not isinstance(subject, str) or len(subject) > 1_000):
        raise InvalidInput("subject must be a string of at most 1,000 characters", field="subject")
    if callback_url is not None and (
        not isinstance(callback_url, str)
        or not callback_url.startswith(("http://", "https://"))
        or len(callback_url) > 2_000
    ):
        raise InvalidInput("callback_url must be an http(s) URL", field="callback_url")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    fields = (
        ("subject", subject),
        ("source", source),
        ("external_id", external_id),
        ("callback_url", callback_url),
        ("metadata", metadata),
    )
    for name, value in fields:  # text has its own rule, checked above
        if contains_nul(value):
            raise InvalidInput(
                f"{name} contains a NUL character (\\u0000), which is refused.", field=name
            )
    return NewTicket(
        text=cleaned,
        source=source.strip(),
        external_id=None if external_id is None else str(external_id).strip(),
        subject=subject,
        callback_url=callback_url,
        metadata=metadata or {},
    )


def find_existing(request: NewTicket, *, session: Session) -> Ticket | None:
    """The ticket already created for this source and external id, if any."""
    if request.external_id is None:
        return None
    query = select(Ticket).where(
        Ticket.source == request.source, Ticket.external_id == request.external_id
    )
    return session.scalars(query).one_or_none()


def classify_under_policy(
    texts: Sequence[str], *, model: LoadedModel | None, policy: Policy, rng: random.Random
) -> list[tuple[Classification, float | None]]:
    """What the service would decide for each text now: admins' thresholds and floor,
    renames, retirements, pause and open new topics applied; with each, the bar its label
    had to clear."""
    if model is None:
        cold = classify_texts(texts, model=None, audit_rate=policy.audit_rate, rng=rng)
        return [(result, None) for result in cold]
    renamed = policy.label_map((str(c) for c in model.model.classes_), model.version_id)
    thresholds = policy.thresholds_for(model.thresholds, renamed)
    model = LoadedModel(model.version_id, model.model, thresholds)
    # Topics and "none of these" tickets are embedded with the configured encoder: after
    # TRIAGE_SENTENCE_ENCODER changes they wait for a model trained with it (not comparable).
    same_space = model.model.encoder == policy.encoder
    decided = []
    classified = classify_texts(
        texts,
        model=model,
        audit_rate=policy.audit_rate,
        rng=rng,
        topics=policy.topics if same_space else (),
        unlabelled=policy.unlabelled if same_space else None,
    )
    for raw in classified:
        result, threshold = in_current_names(
            raw, renamed=renamed, retired=policy.retired, thresholds=thresholds
        )
        if policy.paused and result.decision != Decision.REVIEW:
            result = replace(result, decision=Decision.REVIEW)
        decided.append((result, threshold))
    return decided


def in_current_names(
    result: Classification,
    *,
    renamed: Mapping[str, str],
    retired: frozenset[str],
    thresholds: Thresholds,
) -> tuple[Classification, float | None]:
    """The model's answer in today's label names, and the bar its label had to clear.

    A class renamed since training takes its new name, so its route and history follow. A
    retired label is never offered: the best label still in use is shown instead, and the
    ticket goes to review (retired labels are never automatic, see `Policy.thresholds_for`).
    """
    if result.label is None:
        return result, None

    def now(name: str) -> str:
        return renamed.get(name, name)

    model_name = {now(name): name for name, _ in result.suggestions}
    shown = tuple((now(name), p) for name, p in result.suggestions if now(name) not in retired)
    label = now(result.label)
    if label not in retired:
        return replace(result, label=label, suggestions=shown), thresholds.for_label(result.label)
    if not shown:
        return replace(result, label=None, confidence=None, suggestions=()), None
    best, probability = shown[0]
    offered = replace(
        result, label=best, confidence=probability, decision=Decision.REVIEW, suggestions=shown
    )
    return offered, thresholds.for_label(model_name[best])


def submit_ticket(
    request: NewTicket,
    *,
    factory: sessionmaker[Session],
    model: LoadedModel | None,
    policy: Policy,
    now: datetime,
    rng: random.Random,
    reply_to: tuple[str, str] | None = None,
) -> IntakeResult:
    """Create the ticket (or return the existing duplicate) with its deliveries queued.

    `reply_to` is a (channel, message ts) to answer in the thread with the outcome.
    """
    with unit_of_work(factory) as session:
        existing = find_existing(request, session=session)
        if existing is not None:
            return IntakeResult(existing, created=False)
    [(result, threshold)] = classify_under_policy(
        [request.text], model=model, policy=policy, rng=rng
    )
    try:
        with unit_of_work(factory) as session:
            ticket = store_classified(
                request, result, threshold=threshold, session=session, now=now
            )
            if reply_to is not None:
                channel, thread_ts = reply_to
                enqueue(
                    OutboxKind.THREAD_REPLY,
                    session=session,
                    now=now,
                    ticket_id=ticket.id,
                    payload={"channel": channel, "thread_ts": thread_ts},
                )
    except IntegrityError:
        # The same external id arrived twice at once; the other request created it.
        with unit_of_work(factory) as session:
            existing = find_existing(request, session=session)
        if existing is None:
            raise
        return IntakeResult(existing, created=False)
    return IntakeResult(ticket, created=True)


def store_classified(
    request: NewTicket,
    result: Classification,
    *,
    threshold: float | None,
    session: Session,
    now: datetime,
) -> Ticket:
    """Insert the ticket in its decided state and queue its messages, in one transaction."""
    ticket = new_ticket_row(request, result, threshold=threshold, now=now)
    session.add(ticket)
    session.flush()
    queue_ticket_messages(ticket, session=session, now=now)
    return ticket


def new_ticket_row(
    request: NewTicket, result: Classification, *, threshold: float | None, now: datetime
) -> Ticket:
    """The ticket in its decided state, not yet added to any session."""
    return Ticket(**new_ticket_values(request, result, threshold=threshold, now=now))


def new_ticket_values(
    request: NewTicket, result: Classification, *, threshold: float | None, now: datetime
) -> dict[str, Any]:
    """The decided ticket's attributes (`Ticket` attribute name -> value)."""
    confident = result.decision in (Decision.AUTO, Decision.AUDIT)
    return {
        "text": request.text,
        "subject": request.subject,
        "source": request.source,
        "external_id": request.external_id,
        "created_at": now,
        "status": TicketStatus.AUTO if confident else TicketStatus.PENDING,
        "decision": result.decision,
        "predicted_label": result.label,
        "confidence": result.confidence,
        "threshold": threshold,
        "suggestions": [[label, round(p, 4)] for label, p in result.suggestions],
        "model_version_id": result.model_version,
        "final_label": result.label if confident else None,
        "decided_at": now if confident else None,
        "callback_url": request.callback_url,
        "extra": request.metadata or None,
        "novelty": result.novelty,
        "novel": result.novel,
        "topic_id": result.topic_id,
    }


def queue_ticket_messages(
    ticket: Ticket,
    *,
    session: Session,
    now: datetime,
    routes: Mapping[str, str | None] | None = None,
) -> None:
    """Queue what a stored (flushed) new ticket causes: its review post, or its routing.
    `routes` (label name -> route channel) saves a query per ticket when a batch knows them."""
    label = ticket.final_label
    if label is not None and (routes is None or label not in routes):
        found = label_by_name(label, session=session)
        routes = {**(routes or {}), label: None if found is None else found.route_channel}
    for kind, payload in new_ticket_messages(ticket, routes=routes or {}):
        enqueue(kind, session=session, now=now, ticket_id=ticket.id, payload=payload)


def new_ticket_messages(
    ticket: Ticket, *, routes: Mapping[str, str | None]
) -> list[tuple[OutboxKind, dict[str, Any]]]:
    """The outbox rows (kind, payload) a new ticket causes: a review or audit is posted to
    the review channel, an automatic or audited label is routed. `routes` holds each label's
    route channel; a label missing from it has none."""
    messages: list[tuple[OutboxKind, dict[str, Any]]] = []
    if ticket.decision in (Decision.REVIEW, Decision.AUDIT):
        messages.append((OutboxKind.POST_TICKET, {}))
    if ticket.decision in (Decision.AUTO, Decision.AUDIT):
        label = ticket.final_label
        channel = None if label is None else routes.get(label)
        messages += routing_messages(ticket, channel)
    return messages

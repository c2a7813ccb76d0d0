"""Intake of many tickets at once: one policy check, one classifier call, one transaction.

Concurrent API requests, Slack intake messages and the batch endpoint all end here (the web
process gathers them for a few milliseconds, see `bot.intake_batcher`). Each ticket still gets
its own answer: a new ticket, the one already stored for its (source, external id), or the
error that concerns it alone. The batch is written in one savepoint with one INSERT per table;
if the database refuses any row, that savepoint is rolled back and each ticket is written in a
savepoint of its own, so one that the database refuses fails alone. The batch commits once, so
a writer that dies mid-batch leaves nothing of it behind. What is only read before the write
(policy stamp, existing duplicates) is read without SQLite's write lock.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from bot.services.classification import Classification
from bot.services.intake import (
    IntakeResult,
    NewTicket,
    classify_under_policy,
    new_ticket_messages,
    new_ticket_values,
    store_classified,
)
from bot.services.models import LoadedModel
from bot.services.policy import Policy
from bot.services.policy_cache import PolicyCache
from storage.database import reading, unit_of_work
from storage.errors import StorageError
from storage.models import Label, OutboxKind, OutboxMessage, Ticket
from storage.queries.bulk import insert_returning_ids, insert_rows
from storage.queries.outbox import enqueue

log = logging.getLogger(__name__)

Key = tuple[str, str]
Answer = IntakeResult | Exception


class TicketNotStored(StorageError):
    """The database refused this one ticket; the others of its batch were not affected."""


class BatchNotStored(StorageError):
    """The batch's transaction failed as a whole, so none of its new tickets was stored."""


@dataclass(frozen=True)
class Submission:
    """One ticket to take in; `reply_to` is a Slack (channel, ts) to answer in the thread."""

    ticket: NewTicket
    reply_to: tuple[str, str] | None = None

    @property
    def key(self) -> Key | None:
        external = self.ticket.external_id
        return None if external is None else (self.ticket.source, external)


def existing_tickets(keys: Sequence[Key], *, session: Session) -> dict[Key, Ticket]:
    """The tickets already stored for these (source, external id) pairs: one indexed
    `external_id IN (...)` query per source (a batch nearly always has one source) for their
    ids, and the tickets themselves loaded only when there are any (resends are rare)."""
    by_source: dict[str, list[str]] = {}
    for source, external in keys:
        by_source.setdefault(source, []).append(external)
    connection = session.connection()
    ids: list[int] = []
    for source, externals in by_source.items():
        for start in range(0, len(externals), 500):  # keep the statement's parameters few
            chunk = externals[start : start + 500]
            found = connection.execute(_STORED_IDS, {"source": source, "externals": chunk})
            ids += (ticket_id for (ticket_id,) in found)
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(ids))) if ids else ()
    return {(t.source, t.external_id): t for t in tickets if t.external_id is not None}


# Built once: building a statement and its cache key cost more than SQLite took to run it.
_STORED_IDS = select(Ticket.id).where(
    Ticket.source == bindparam("source"),
    Ticket.external_id.in_(bindparam("externals", expanding=True)),
)


def classify_each(
    texts: Sequence[str], *, model: LoadedModel | None, policy: Policy, rng: random.Random
) -> list[tuple[Classification, float | None] | Exception]:
    """One batch call; if the batch fails, each text on its own, so one bad text fails alone."""
    try:
        return list(classify_under_policy(texts, model=model, policy=policy, rng=rng))
    except Exception:  # noqa: BLE001 - find which text it was; the others must still pass
        log.warning("batch classification failed; classifying one by one", exc_info=True)
    results: list[tuple[Classification, float | None] | Exception] = []
    for one in texts:
        try:
            [result] = classify_under_policy([one], model=model, policy=policy, rng=rng)
        except Exception as error:  # noqa: BLE001 - this ticket's own answer
            results.append(error)
        else:
            results.append(result)
    return results


def submit_batch(
    submissions: Sequence[Submission],
    *,
    factory: sessionmaker[Session],
    model: LoadedModel | None,
    policies: PolicyCache,
    now: datetime,
    rng: random.Random,
) -> list[Answer]:
    """Take in every submission; answer each in order, with its result or its own error."""
    answers: list[Answer | None] = [None] * len(submissions)
    with reading(factory) as session:
        policy = policies.get(session=session)
        keys = sorted({s.key for s in submissions if s.key is not None})
        stored = existing_tickets(keys, session=session) if keys else {}
    first_of: dict[Key, int] = {}
    fresh: list[int] = []  # indices of submissions that make a new ticket
    for index, submission in enumerate(submissions):
        key = submission.key
        if key is not None and key in stored:
            answers[index] = IntakeResult(stored[key], created=False)
        elif key is not None and key in first_of:
            continue  # a resend within this batch: answered with the first one's ticket
        else:
            if key is not None:
                first_of[key] = index
            fresh.append(index)
    classified = classify_each(
        [submissions[i].ticket.text for i in fresh], model=model, policy=policy, rng=rng
    )
    conflicts: list[int] = []
    try:
        written = write_all([submissions[i] for i in fresh], classified, factory=factory, now=now)
    except SQLAlchemyError as error:  # the commit itself failed: nothing of the batch stays
        log.warning("intake batch not stored", extra={"error": type(error).__name__})
        raise BatchNotStored("The database could not store the tickets; retry.") from None
    for index, outcome in zip(fresh, written, strict=True):
        if outcome is CONFLICT:
            conflicts.append(index)
        else:
            answers[index] = outcome
    if conflicts:
        keys = [k for k in (submissions[i].key for i in conflicts) if k is not None]
        with reading(factory) as session:
            stored = existing_tickets(keys, session=session)
        for index in conflicts:
            key = submissions[index].key
            found = None if key is None else stored.get(key)
            answers[index] = (
                IntakeResult(found, created=False)
                if found is not None
                else TicketNotStored("The database refused this ticket.")
            )
    for index, submission in enumerate(submissions):  # resends within the batch
        key = submission.key
        if answers[index] is None and key is not None:
            first = answers[first_of[key]]
            answers[index] = (
                IntakeResult(first.ticket, created=False)
                if isinstance(first, IntakeResult)
                else first
            )
    return [answer if answer is not None else AssertionError("unanswered") for answer in answers]


CONFLICT = TicketNotStored("stored meanwhile by another request")


def write_all(
    submissions: Sequence[Submission],
    classified: Sequence[tuple[Classification, float | None] | Exception],
    *,
    factory: sessionmaker[Session],
    now: datetime,
) -> list[Answer]:
    """Write every classified ticket in one transaction: all together in one savepoint, or,
    if the database refuses any of them, each in a savepoint of its own.

    A ticket whose (source, external id) another process stored meanwhile answers CONFLICT.
    """
    with unit_of_work(factory) as session:
        try:
            with session.begin_nested():
                return write_together(submissions, classified, session=session, now=now)
        except SQLAlchemyError as error:
            log.info(
                "batch refused together; writing one by one", extra={"error": type(error).__name__}
            )
        return write_each(submissions, classified, session=session, now=now)


def write_together(
    submissions: Sequence[Submission],
    classified: Sequence[tuple[Classification, float | None] | Exception],
    *,
    session: Session,
    now: datetime,
) -> list[Answer]:
    """The common case: the tickets in one `executemany`, then their outbox rows in another
    (Core statements: the ORM's unit of work cost as much as classifying them). The answers
    hold the stored tickets as a committed session leaves them (detached, every column set)."""
    answers: list[Answer] = []
    fresh: list[tuple[int, Submission, dict[str, Any]]] = []
    for submission, outcome in zip(submissions, classified, strict=True):
        if isinstance(outcome, Exception):
            answers.append(outcome)
            continue
        result, threshold = outcome
        values = new_ticket_values(submission.ticket, result, threshold=threshold, now=now)
        fresh.append((len(answers), submission, values))
        answers.append(CONFLICT)  # replaced below once stored
    ids = insert_returning_ids(
        TICKETS, [ticket_row(values) for _, _, values in fresh], session=session
    )
    labels = {values["final_label"] for _, _, values in fresh if values["final_label"]}
    routes = route_channels(labels, session=session)
    messages: list[dict[str, Any]] = []
    for (index, submission, values), ticket_id in zip(fresh, ids, strict=True):
        ticket = stored_ticket(ticket_id, values)
        answers[index] = IntakeResult(ticket, created=True)
        kinds = new_ticket_messages(ticket, routes=routes)
        if submission.reply_to is not None:
            channel, thread_ts = submission.reply_to
            kinds.append((OutboxKind.THREAD_REPLY, {"channel": channel, "thread_ts": thread_ts}))
        messages += (outbox_row(kind, payload, ticket_id, now) for kind, payload in kinds)
    insert_rows(OUTBOX, messages, session=session)
    return answers


TICKETS: Table = Ticket.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_TICKET_COLUMNS = {
    attribute.key: attribute.columns[0].key for attribute in inspect(Ticket).column_attrs
}


_EMPTY_TICKET = dict.fromkeys(_TICKET_COLUMNS)
_TICKET_MANAGER = inspect(Ticket).class_manager


def ticket_row(values: dict[str, Any]) -> dict[str, Any]:
    """`new_ticket_values` by column name (the `extra` attribute is the `metadata` column)."""
    return {_TICKET_COLUMNS[name]: value for name, value in values.items()}


def stored_ticket(ticket_id: int, values: dict[str, Any]) -> Ticket:
    """The ticket just inserted with these values, as a committed session leaves it:
    detached, every column loaded (those intake does not set are empty, as in the row).

    Its attributes are placed as a query's load places them, without the constructor's
    attribute events (history kept for a flush that never comes): for a batch of 100 the
    constructor cost as much as the INSERT (80 against 18 microseconds a ticket)."""
    ticket: Ticket = _TICKET_MANAGER.new_instance()
    loaded = ticket.__dict__
    loaded.update(_EMPTY_TICKET)
    loaded.update(values)
    loaded["id"] = ticket_id
    make_transient_to_detached(ticket)
    return ticket


def outbox_row(
    kind: OutboxKind, payload: dict[str, Any], ticket_id: int, now: datetime
) -> dict[str, Any]:
    """One outbox row as `storage.queries.outbox.enqueue` writes it, due now."""
    return {
        "kind": kind,
        "ticket_id": ticket_id,
        "payload": payload,
        "created_at": now,
        "due_at": now,
        "attempts": 0,
    }


def route_channels(names: set[str], *, session: Session) -> dict[str, str | None]:
    """Each label's route channel (None when it has none), in one query."""
    if not names:
        return {}
    rows = session.connection().execute(_ROUTES, {"names": sorted(names)})
    return {name: channel for name, channel in rows}


_ROUTES = select(Label.name, Label.route_channel).where(
    Label.name.in_(bindparam("names", expanding=True))
)


def write_each(
    submissions: Sequence[Submission],
    classified: Sequence[tuple[Classification, float | None] | Exception],
    *,
    session: Session,
    now: datetime,
) -> list[Answer]:
    """Each ticket in a savepoint of its own, so the one the database refuses fails alone."""
    answers: list[Answer] = []
    for submission, outcome in zip(submissions, classified, strict=True):
        if isinstance(outcome, Exception):
            answers.append(outcome)
            continue
        try:
            with session.begin_nested():
                ticket = write_one(submission, outcome, session=session, now=now)
        except IntegrityError:
            answers.append(CONFLICT)
        except SQLAlchemyError as error:
            log.warning("ticket not stored", extra={"error": type(error).__name__})
            answers.append(TicketNotStored("The database refused this ticket."))
        else:
            answers.append(IntakeResult(ticket, created=True))
    return answers


def write_one(
    submission: Submission,
    classified: tuple[Classification, float | None],
    *,
    session: Session,
    now: datetime,
) -> Ticket:
    """The ticket, its messages and the reply in its intake thread, in the caller's savepoint."""
    result, threshold = classified
    ticket = store_classified(
        submission.ticket, result, threshold=threshold, session=session, now=now
    )
    queue_thread_reply(submission, ticket, session=session, now=now)
    return ticket


def queue_thread_reply(
    submission: Submission, ticket: Ticket, *, session: Session, now: datetime
) -> None:
    """A ticket posted in the intake channel is answered in its thread."""
    if submission.reply_to is not None:
        channel, thread_ts = submission.reply_to
        enqueue(
            OutboxKind.THREAD_REPLY,
            session=session,
            now=now,
            ticket_id=ticket.id,
            payload={"channel": channel, "thread_ts": thread_ts},
        )

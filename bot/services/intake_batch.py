"""Intake of many tickets at once: one policy check, one classifier call, one transaction.

Concurrent API requests, Slack intake messages and the batch endpoint all end here (the web
process gathers them for a few milliseconds, see `bot.intake_batcher`). Each ticket still gets
its own answer: a new ticket, the one already stored for its (source, external id), or the
error that concerns it alone. Each ticket is written in a savepoint, so one that the database
refuses rolls back alone; the batch commits once, so a writer that dies mid-batch leaves
nothing of it behind.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.services.classification import Classification
from bot.services.intake import IntakeResult, NewTicket, classify_under_policy, store_classified
from bot.services.models import LoadedModel
from bot.services.policy import Policy
from bot.services.policy_cache import PolicyCache
from storage.database import unit_of_work
from storage.errors import StorageError
from storage.models import OutboxKind, Ticket
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
    """The tickets already stored for these (source, external id) pairs, in one query."""
    found: dict[Key, Ticket] = {}
    for start in range(0, len(keys), 200):  # keep the statement's parameters few
        chunk = keys[start : start + 200]
        match = or_(*((Ticket.source == s) & (Ticket.external_id == e) for s, e in chunk))
        for ticket in session.scalars(select(Ticket).where(match)):
            assert ticket.external_id is not None
            found[(ticket.source, ticket.external_id)] = ticket
    return found


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
    with unit_of_work(factory) as session:
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
        with unit_of_work(factory) as session:
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
    """Write every classified ticket in one transaction, each in a savepoint of its own.

    A ticket whose (source, external id) another process stored meanwhile answers CONFLICT.
    """
    answers: list[Answer] = []
    with unit_of_work(factory) as session:
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
    if submission.reply_to is not None:
        channel, thread_ts = submission.reply_to
        enqueue(
            OutboxKind.THREAD_REPLY,
            session=session,
            now=now,
            ticket_id=ticket.id,
            payload={"channel": channel, "thread_ts": thread_ts},
        )
    return ticket

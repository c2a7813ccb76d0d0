"""Answers from people: a label, a skip, or an undo, each checked and recorded exactly once.

The ticket row is locked for the length of the transaction (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers), so two people clicking different
labels at the same moment end with one decision, and a double click records one answer.

A decision is routed at once (route channel, callback, the intake thread). An undo takes that
back: what has not been sent is cancelled, and what was sent is corrected (the posts edited
to say the label was undone, the callback told the ticket's state again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.routing import queue_routing
from bot.services.second_opinions import OpinionRules, SecondOpinion, Stage, stage, why_doubt
from classifier import Decision
from storage.models import OutboxKind, OutboxMessage, Review, ReviewKind, Ticket, TicketStatus
from storage.queries.labels import label_by_name
from storage.queries.outbox import cancel_unclaimed, enqueue

UNDO_WINDOW = timedelta(minutes=5)
NO_LABEL_WORDS = "none of these"  # how an undone "none of these" is named in notices

# Outbox payload keys for what a person's decision sends, so that an undo can take it back.
FROM_ANSWER = "from_answer"  # true on the route post, callback and intake-thread outcome
OUTCOME = "outcome"  # a thread reply telling the intake thread the label a person chose
RETRACTS = "retracts"  # the id of the delivery this one corrects
SENT = "sent"  # on a delivered row that did send: {"channel", "ts"} (None for a callback)
UNDOABLE_KINDS = (OutboxKind.ROUTE, OutboxKind.CALLBACK, OutboxKind.THREAD_REPLY)


class AnswerStatus(StrEnum):
    """What became of an answer; listeners turn each into the right words."""

    DECIDED = "decided"  # this answer settled the ticket
    RECORDED = "recorded"  # counted; more matching answers are needed (quorum)
    SECOND_OPINION = "second_opinion"  # counted; someone else's answer is needed to settle it
    NEEDS_ADMIN = "needs_admin"  # three answers disagree: only an admin's answer counts now
    SKIPPED = "skipped"
    UNDONE = "undone"
    ALREADY_DECIDED = "already_decided"
    DUPLICATE = "duplicate"  # this person already answered: nothing new recorded
    NOT_FOUND = "not_found"
    UNKNOWN_LABEL = "unknown_label"
    NOT_YOURS = "not_yours"  # undo by someone other than the person who chose
    TOO_LATE = "too_late"  # undo after the window


@dataclass(frozen=True)
class AnswerOutcome:
    """The result of one click, with what the person needs to hear about it."""

    status: AnswerStatus
    ticket_id: int
    label: str | None = None
    decided_by: str | None = None
    audit: bool = False  # the ticket is an audit: its automatic label was already routed


def _locked_ticket(ticket_id: int, *, session: Session) -> Ticket | None:
    query = select(Ticket).where(Ticket.id == ticket_id).with_for_update()
    return session.scalars(query).one_or_none()


def is_answerable(ticket: Ticket) -> bool:
    """Pending reviews, audits nobody has answered yet, and settled labels asked again."""
    if ticket.status == TicketStatus.PENDING or is_reasked(ticket):
        return True
    return ticket.decision == Decision.AUDIT and ticket.decided_by is None


def is_reasked(ticket: Ticket) -> bool:
    """A person's settled label sent back for a second look (screening judged it wrong)."""
    return (
        ticket.second_opinion == SecondOpinion.SCREENED and ticket.status == TicketStatus.LABELLED
    )


def _already(ticket: Ticket) -> AnswerOutcome:
    return AnswerOutcome(
        AnswerStatus.ALREADY_DECIDED, ticket.id, ticket.final_label, ticket.decided_by
    )


def _active_reviews(ticket: Ticket) -> list[Review]:
    return [r for r in ticket.reviews if r.undone_at is None]


def _refresh(ticket: Ticket, *, session: Session, now: datetime) -> None:
    enqueue(OutboxKind.REFRESH_TICKET, session=session, now=now, ticket_id=ticket.id)


def record_answer(
    ticket_id: int,
    *,
    user: str,
    label: str,
    quorum: int,
    session: Session,
    now: datetime,
    opinions: OpinionRules | None = None,
    admin: bool = False,
) -> AnswerOutcome:
    """Count `user`'s label for the ticket; decide it once `quorum` people agree.

    With `opinions`, a first answer they make doubtful (or one drawn at random) waits for a
    second person's (`bot.services.second_opinions`); `admin` says whether `user` may settle
    a ticket whose answers all disagree.
    """
    return _record(
        ticket_id,
        user=user,
        choice=label,
        quorum=quorum,
        session=session,
        now=now,
        opinions=opinions,
        admin=admin,
    )


def record_no_label(
    ticket_id: int,
    *,
    user: str,
    proposed: str | None,
    quorum: int,
    session: Session,
    now: datetime,
    opinions: OpinionRules | None = None,
    admin: bool = False,
) -> AnswerOutcome:
    """Count `user`'s "none of these": no label fits, with the name they would give one.

    Such a ticket is never labelled automatically or learned as a label; it teaches the
    novelty detector what the labels do not cover, and its proposed name seeds the label
    suggested for its topic.
    """
    return _record(
        ticket_id,
        user=user,
        choice=None,
        proposed=proposed,
        quorum=quorum,
        session=session,
        now=now,
        opinions=opinions,
        admin=admin,
    )


def _record(
    ticket_id: int,
    *,
    user: str,
    choice: str | None,
    quorum: int,
    session: Session,
    now: datetime,
    proposed: str | None = None,
    opinions: OpinionRules | None = None,
    admin: bool = False,
) -> AnswerOutcome:
    """A label (`choice`) or "none of these" (None): recorded once, deciding at quorum, or,
    on a ticket waiting for a second opinion, once two people agree (or an admin answers
    after three disagreed)."""
    ticket = _locked_ticket(ticket_id, session=session)
    if ticket is None:
        return AnswerOutcome(AnswerStatus.NOT_FOUND, ticket_id)
    if not is_answerable(ticket):
        return _already(ticket)
    if choice is not None:
        known = label_by_name(choice, session=session)
        if known is None or not known.active:
            return AnswerOutcome(AnswerStatus.UNKNOWN_LABEL, ticket_id, choice)
    mine = [r for r in _active_reviews(ticket) if r.slack_user == user and _answered(r)]
    if mine:
        return AnswerOutcome(AnswerStatus.DUPLICATE, ticket_id, mine[0].label)
    waiting_for = opinion_stage(ticket)
    if waiting_for == Stage.ADMIN and not admin:
        return AnswerOutcome(AnswerStatus.NEEDS_ADMIN, ticket_id, choice)
    kind = ReviewKind.AUDIT if ticket.decision == Decision.AUDIT else ReviewKind.REVIEW
    review = Review(
        ticket=ticket,
        slack_user=user,
        label=choice,
        no_label=choice is None,
        proposed_label=proposed,
        kind=kind,
        created_at=now,
    )
    session.add(review)
    session.flush()
    answered = [r for r in _active_reviews(ticket) if _answered(r)]
    agreeing = sum(1 for r in answered if r.label == choice)
    if waiting_for is not None:
        if agreeing < max(quorum, 2) and waiting_for != Stage.ADMIN:
            _refresh(ticket, session=session, now=now)
            return AnswerOutcome(AnswerStatus.SECOND_OPINION, ticket_id, choice)
        if is_reasked(ticket):
            return _settle_second_look(ticket, label=choice, user=user, session=session, now=now)
    elif agreeing < quorum:
        _refresh(ticket, session=session, now=now)
        return AnswerOutcome(AnswerStatus.RECORDED, ticket_id, choice)
    elif (
        opinions is not None
        and quorum == 1
        and len(answered) == 1
        and (ticket.status == TicketStatus.PENDING or ticket.decision == Decision.AUDIT)
        and (reason := why_doubt(ticket, user=user, label=choice, rules=opinions)) is not None
    ):
        # The route and callback wait for the settled label (an audit's automatic one stands).
        ticket.second_opinion = reason
        _refresh(ticket, session=session, now=now)
        audit = ticket.decision == Decision.AUDIT
        return AnswerOutcome(AnswerStatus.SECOND_OPINION, ticket_id, choice, audit=audit)
    _decide(ticket, label=choice, user=user, session=session, now=now)
    return AnswerOutcome(AnswerStatus.DECIDED, ticket_id, choice, user)


def _settle_second_look(
    ticket: Ticket, *, label: str | None, user: str, session: Session, now: datetime
) -> AnswerOutcome:
    """A label asked again is settled: kept as it was, or changed, which corrects what its
    first decision sent (route post, callback) and routes the new label."""
    ticket.second_opinion = SecondOpinion.RECHECKED
    before = ticket.final_label
    if label == before:
        _refresh(ticket, session=session, now=now)
        return AnswerOutcome(AnswerStatus.DECIDED, ticket.id, label, ticket.decided_by)
    _take_back_routing(ticket, label=before or NO_LABEL_WORDS, user=user, session=session, now=now)
    _decide(ticket, label=label, user=user, session=session, now=now)
    return AnswerOutcome(AnswerStatus.DECIDED, ticket.id, label, user)


def opinion_stage(ticket: Ticket) -> Stage | None:
    """Whose answer a second-opinion ticket still waits for (None: it is not one, or settled)."""
    if ticket.second_opinion is None or not is_answerable(ticket):
        return None
    return stage([r.label for r in _active_reviews(ticket) if _answered(r)])


def _answered(review: Review) -> bool:
    """A label or "none of these" (a skip answers nothing)."""
    return review.label is not None or review.no_label


def _decide(
    ticket: Ticket, *, label: str | None, user: str, session: Session, now: datetime
) -> None:
    """Settle the ticket on `label` (None: no label fits) and route what that changes."""
    corrected = ticket.final_label != label
    ticket.final_label, ticket.decided_by, ticket.decided_at = label, user, now
    if label is None:
        ticket.status = TicketStatus.NO_LABEL
        _route(ticket, session=session, now=now)  # the callback hears it; no label channel
    elif ticket.status == TicketStatus.PENDING:
        ticket.status = TicketStatus.LABELLED
        _route(ticket, session=session, now=now)
    elif corrected:  # an audit that found the automatic label wrong: route the correction
        _route(ticket, session=session, now=now)
    _refresh(ticket, session=session, now=now)
    # A second refresh once the undo window has passed removes the Undo button.
    enqueue(
        OutboxKind.REFRESH_TICKET,
        session=session,
        now=now,
        ticket_id=ticket.id,
        due_at=now + UNDO_WINDOW + timedelta(seconds=1),
    )


def _route(ticket: Ticket, *, session: Session, now: datetime) -> None:
    """Route as intake does, answer in the intake thread, and mark these deliveries."""
    thread = _intake_thread(ticket, session=session)
    with session.no_autoflush:  # so the rows queued here are exactly the session's new ones
        queue_routing(ticket, session=session, now=now)
        if thread is not None:
            channel, thread_ts = thread
            payload = {"channel": channel, "thread_ts": thread_ts, OUTCOME: True}
            enqueue(
                OutboxKind.THREAD_REPLY,
                session=session,
                now=now,
                ticket_id=ticket.id,
                payload=payload,
            )
        for item in session.new:
            if isinstance(item, OutboxMessage) and item.ticket_id == ticket.id:
                item.payload = {**item.payload, FROM_ANSWER: True}


def _outbox(ticket: Ticket, *, session: Session) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.ticket_id == ticket.id, OutboxMessage.kind.in_(UNDOABLE_KINDS))
        .order_by(OutboxMessage.id)
    )
    return list(session.scalars(query))


def _intake_thread(ticket: Ticket, *, session: Session) -> tuple[str, str] | None:
    """Where intake answered a Slack message with this ticket's first outcome, if it did.

    Read from that reply's own outbox row: only the Slack listener writes one, so an API
    caller's metadata can never point the bot at a thread of its choosing.
    """
    for row in _outbox(ticket, session=session):
        # Reminders carry their wait, long-text replies "full_text", outcomes OUTCOME.
        if row.kind == OutboxKind.THREAD_REPLY and set(row.payload) == {"channel", "thread_ts"}:
            return str(row.payload["channel"]), str(row.payload["thread_ts"])
    return None


def _take_back_routing(
    ticket: Ticket, *, label: str, user: str, session: Session, now: datetime
) -> None:
    """Cancel the decision's deliveries not yet sent; correct the ones sent or being sent."""
    rows = _outbox(ticket, session=session)
    corrected = {row.payload[RETRACTS] for row in rows if RETRACTS in row.payload}
    for row in rows:
        if not row.payload.get(FROM_ANSWER) or row.id in corrected:
            continue
        if row.delivered_at is not None and SENT not in row.payload:
            continue  # delivered without sending anything: nothing to correct
        if cancel_unclaimed(row.id, session=session, now=now):
            continue
        enqueue(
            OutboxKind(row.kind),
            session=session,
            now=now,
            ticket_id=ticket.id,
            payload={RETRACTS: row.id, "label": label, "undone_by": user},
        )


def record_skip(ticket_id: int, *, user: str, session: Session, now: datetime) -> AnswerOutcome:
    """Leave the ticket for someone else, noting who passed on it."""
    ticket = _locked_ticket(ticket_id, session=session)
    if ticket is None:
        return AnswerOutcome(AnswerStatus.NOT_FOUND, ticket_id)
    if not is_answerable(ticket):
        return _already(ticket)
    if any(r.slack_user == user and not _answered(r) for r in _active_reviews(ticket)):
        return AnswerOutcome(AnswerStatus.DUPLICATE, ticket_id)
    kind = ReviewKind.AUDIT if ticket.decision == Decision.AUDIT else ReviewKind.REVIEW
    session.add(Review(ticket=ticket, slack_user=user, label=None, kind=kind, created_at=now))
    _refresh(ticket, session=session, now=now)
    return AnswerOutcome(AnswerStatus.SKIPPED, ticket_id)


def undo_answer(ticket_id: int, *, user: str, session: Session, now: datetime) -> AnswerOutcome:
    """Take back a decision within five minutes; only the person who made it may."""
    ticket = _locked_ticket(ticket_id, session=session)
    if ticket is None:
        return AnswerOutcome(AnswerStatus.NOT_FOUND, ticket_id)
    undoable = (TicketStatus.LABELLED, TicketStatus.AUTO, TicketStatus.NO_LABEL)
    if ticket.decided_by is None or ticket.status not in undoable:
        return AnswerOutcome(AnswerStatus.NOT_FOUND, ticket_id)
    if ticket.decided_by != user:
        return AnswerOutcome(
            AnswerStatus.NOT_YOURS, ticket_id, ticket.final_label, ticket.decided_by
        )
    assert ticket.decided_at is not None
    if now > ticket.decided_at + UNDO_WINDOW:
        _refresh(ticket, session=session, now=now)
        return AnswerOutcome(AnswerStatus.TOO_LATE, ticket_id, ticket.final_label, user)
    undone = ticket.final_label or NO_LABEL_WORDS
    for review in _active_reviews(ticket):
        if review.slack_user == user and _answered(review):
            review.undone_at = now  # other people's matching answers still count
    if ticket.decision == Decision.AUDIT:  # an audit answer: the automatic label stands again
        ticket.status = TicketStatus.AUTO
        ticket.final_label, ticket.decided_by = ticket.predicted_label, None
        ticket.decided_at = ticket.created_at
    else:
        ticket.status = TicketStatus.PENDING
        ticket.final_label, ticket.decided_by, ticket.decided_at = None, None, None
    _take_back_routing(ticket, label=undone, user=user, session=session, now=now)
    _refresh(ticket, session=session, now=now)
    return AnswerOutcome(AnswerStatus.UNDONE, ticket_id, undone, user)

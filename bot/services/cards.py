"""What a ticket message shows, as data gathered from the database (the builders stay pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services.actors import helpdesk_agent
from bot.services.answers import UNDO_WINDOW, is_reasked, opinion_stage
from bot.services.second_opinions import Stage
from classifier import Decision
from storage.models import ReviewKind, Ticket, TicketStatus
from storage.queries.labels import active_label_names


@dataclass(frozen=True)
class Decided:
    """The label a person settled on (None: no label fits), and until when they may take it
    back; `proposed` is the name they would give the missing label."""

    label: str | None
    by: str
    at: datetime
    undo_until: datetime | None = None
    proposed: str | None = None


@dataclass(frozen=True)
class TicketCard:
    """Everything the message shows, gathered from the database by the caller."""

    ticket_id: int
    text: str
    source: str
    created_at: datetime
    kind: ReviewKind  # a review, or a blind audit of an automatic label
    labels: tuple[str, ...]
    # The model's labels in its order with their probability; None for a label offered
    # first because it was created for the ticket's new topic after the model saw it.
    suggestions: tuple[tuple[str, float | None], ...] = ()
    model_version: int | None = None
    threshold: float | None = None
    waiting: int = 0
    skipped_by: tuple[str, ...] = ()
    votes: tuple[tuple[str, str | None], ...] = ()  # (person, label or None: none fits)
    quorum: int = 1
    decided: Decided | None = None
    novel: bool = False  # unlike anything the model learned: its guesses are not shown
    erased: bool = False  # its text was removed (erasure request or retention)
    subject: str | None = None  # shown above the text, as the customer titled it
    # Waiting for a second opinion: whose answer is awaited, and who answered already (their
    # labels stay hidden until it settles, so nobody is swayed and nobody is asked twice).
    opinion: Stage | None = None
    answered_by: tuple[str, ...] = ()
    second_look: bool = False  # a settled label asked again because screening doubts it
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Board:
    """What every card drawn at one moment shows alike: the labels a person may pick, and
    how many tickets wait for a person. Read once for the cards drawn together."""

    labels: tuple[str, ...]
    waiting: int


def read_board(*, session: Session) -> Board:
    return Board(tuple(active_label_names(session=session)), pending_count(session=session))


def pending_count(*, session: Session) -> int:
    """Tickets waiting for a person."""
    query = select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.PENDING)
    return session.scalar(query) or 0


def ticket_card(ticket: Ticket, *, board: Board, quorum: int) -> TicketCard:
    """The card for a review or audit ticket in its current state (its reviews are loaded
    from the ticket's session if they were not already)."""
    active = [r for r in ticket.reviews if r.undone_at is None]
    answers = [(r.slack_user, r.label) for r in active if r.label is not None or r.no_label]
    decided = None
    if ticket.decided_by is not None and ticket.decided_at is not None:
        no_label = ticket.status == TicketStatus.NO_LABEL
        proposed = next(
            (r.proposed_label for r in active if r.no_label and r.slack_user == ticket.decided_by),
            None,
        )
        decided = Decided(
            None if no_label else ticket.final_label or "",
            ticket.decided_by,
            ticket.decided_at,
            # Undo of a helpdesk's label is the helpdesk's (the API): no Slack user may.
            undo_until=None
            if helpdesk_agent(ticket.decided_by) is not None
            else ticket.decided_at + UNDO_WINDOW,
            proposed=proposed if no_label else None,
        )
    return TicketCard(
        ticket_id=ticket.id,
        text=ticket.text,
        source=ticket.source,
        created_at=ticket.created_at,
        kind=ReviewKind.AUDIT if ticket.decision == Decision.AUDIT else ReviewKind.REVIEW,
        labels=board.labels,
        suggestions=tuple(
            (str(label), None if p is None else float(p)) for label, p in ticket.suggestions or []
        ),
        model_version=ticket.model_version_id,
        threshold=ticket.threshold,
        waiting=board.waiting,
        skipped_by=tuple(
            dict.fromkeys(r.slack_user for r in active if r.label is None and not r.no_label)
        ),
        votes=tuple(answers)
        if (quorum > 1 and not decided) or (decided and ticket.second_opinion and len(answers) > 1)
        else (),
        quorum=quorum,
        decided=decided,
        novel=ticket.novel,
        erased=ticket.erased_at is not None,
        subject=ticket.subject,
        opinion=opinion_stage(ticket),
        answered_by=tuple(dict.fromkeys(user for user, _ in answers)),
        second_look=is_reasked(ticket),
    )

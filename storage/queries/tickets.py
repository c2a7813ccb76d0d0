"""Tickets: intake, labelled history and the examples retraining learns from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Label, Review, Ticket, TicketStatus


@dataclass(frozen=True)
class LabelledExample:
    """A ticket text with the label a person (or imported history) gave it."""

    ticket_id: int
    text: str
    label: str
    decided_at: datetime


def existing_external_ids(
    source: str, external_ids: Iterable[str], *, session: Session
) -> set[str]:
    """Which of `external_ids` already exist for `source` (batched to stay under bind limits)."""
    wanted = list(dict.fromkeys(external_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(Ticket.external_id).where(
            Ticket.source == source, Ticket.external_id.in_(chunk)
        )
        found.update(eid for eid in session.scalars(query) if eid is not None)
    return found


def _examples(session: Session, *conditions: Any) -> list[LabelledExample]:
    query = (
        select(Ticket.id, Ticket.text, Ticket.final_label, Ticket.decided_at)
        .where(
            Ticket.final_label.is_not(None),
            Ticket.decided_by.is_not(None),
            Ticket.erased_at.is_(None),  # its text is gone: nothing to learn from
            *conditions,
        )
        .order_by(Ticket.decided_at, Ticket.id)
    )
    # The WHERE clause guarantees a label; every decided ticket also has decided_at.
    return [
        LabelledExample(ticket_id, text, str(label), decided_at)
        for ticket_id, text, label, decided_at in session.execute(query)
        if decided_at is not None
    ]


def labelled_examples(*, session: Session) -> list[LabelledExample]:
    """Every ticket whose label came from a person or from imported history, oldest answer first.

    Model-applied labels are excluded on purpose: learning from its own guesses would let
    the model confirm its mistakes. So are retired labels: a model still trained on a
    category nobody may pick keeps predicting it, and each of those tickets goes to review.
    Their tickets stay for history and return to training if the label is brought back.
    """
    retired = select(Label.name).where(Label.active.is_(False))
    return _examples(session, Ticket.final_label.not_in(retired))


def imported_examples(*, session: Session) -> list[LabelledExample]:
    """Only the labelled history brought in by `triage import`."""
    return _examples(session, Ticket.status == TicketStatus.IMPORTED)


def imported_ticket_ids(*, session: Session) -> set[int]:
    """Tickets whose label came from `triage import` (no reviewer named on it)."""
    return set(session.scalars(select(Ticket.id).where(Ticket.status == TicketStatus.IMPORTED)))


def unlabelled_texts(*, session: Session, limit: int) -> list[str]:
    """Texts of the most recent tickets no person labelled (automated or still pending).

    Retraining scores them to learn what all arriving tickets look like, not only the
    labelled ones; `limit` bounds the work on a long-lived database.
    """
    query = (
        select(Ticket.text)
        .where(Ticket.decided_by.is_(None), Ticket.erased_at.is_(None))
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def count_by_status(*, session: Session) -> dict[str, int]:
    """Number of tickets in each status."""
    query = select(Ticket.status, func.count()).group_by(Ticket.status)
    return {status: count for status, count in session.execute(query)}


def consensus_ticket_ids(*, session: Session) -> set[int]:
    """Tickets whose final label at least two people gave: confirmed, never screened out."""
    query = (
        select(Review.ticket_id)
        .join(Ticket, Review.ticket_id == Ticket.id)
        .where(Review.label == Ticket.final_label, Review.undone_at.is_(None))
        .group_by(Review.ticket_id)
        .having(func.count(func.distinct(Review.slack_user)) >= 2)
    )
    return set(session.scalars(query))

"""The one public view of a ticket: what the API answers and what a callback URL receives."""

from __future__ import annotations

from typing import Any

from storage.models import Ticket


def public_view(ticket: Ticket) -> dict[str, Any]:
    """The ticket as helpdesks see it: its state, the label and who decided, the model's guess,
    and the subject and metadata it was sent with (gone once its text is erased)."""
    return {
        "id": ticket.id,
        "status": str(ticket.status),
        "decision": None if ticket.decision is None else str(ticket.decision),
        "label": ticket.final_label,
        "suggested_label": ticket.predicted_label,
        "confidence": ticket.confidence,
        "novelty": ticket.novelty,
        "novel": ticket.novel,
        "model_version": ticket.model_version_id,
        "source": ticket.source,
        "external_id": ticket.external_id,
        "subject": ticket.subject,
        "metadata": ticket.extra or {},
        "created_at": ticket.created_at.isoformat(),
        "decided_by": ticket.decided_by,
        "decided_at": None if ticket.decided_at is None else ticket.decided_at.isoformat(),
    }

"""Engines keep ticket text out of error messages (and so out of the logs that quote them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Ticket


def test_a_failed_statement_does_not_quote_its_parameters(
    factory: sessionmaker[Session],
) -> None:
    text = "my card 4111 1111 1111 1111 was declined"
    now = datetime(2026, 11, 23, tzinfo=UTC)
    with factory.begin() as session:
        session.add(Ticket(text=text, created_at=now, status="pending", external_id="x"))
    with pytest.raises(IntegrityError) as raised, factory.begin() as session:
        session.add(Ticket(text=text, created_at=now, status="pending", external_id="x"))
    assert "4111" not in str(raised.value)
    assert "hide_parameters" in str(raised.value)

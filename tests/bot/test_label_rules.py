"""Retired and renamed labels at intake and in training, through the services.

A model keeps the label names it was trained with until the next retraining; these tests
pin what happens meanwhile: a retired label is never applied and never offered, and a
renamed one arrives under its new name, with its route and its bar.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.services.admin import set_label_threshold, set_threshold
from bot.services.admin_labels import add_label, rename_label, retire_label, route_label
from bot.services.intake import IntakeResult, NewTicket, submit_ticket
from bot.services.models import LoadedModel
from bot.services.policy import Policy, Rename, current_policy
from bot.settings import Settings
from classifier import Thresholds, TrainedModel
from storage.database import unit_of_work
from storage.models import OutboxKind, OutboxMessage, Ticket, TicketStatus
from storage.queries.labels import ensure_labels
from storage.queries.tickets import labelled_examples
from tests.bot.conftest import NOW, install_model
from tests.bot.steps import CARD_TEXT

CARD = "card_arrival"


def admin(
    change: Callable[..., object],
    *args: object,
    factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    """Make an admin change as `/triage` would, in its own unit of work."""
    with unit_of_work(factory) as session:
        change(*args, session=session, settings=settings, actor="UADMIN", now=NOW)


def submit(
    factory: sessionmaker[Session], settings: Settings, model: LoadedModel, text: str = CARD_TEXT
) -> IntakeResult:
    with unit_of_work(factory) as session:
        policy = current_policy(session=session, settings=settings)
    return submit_ticket(
        NewTicket(text=text),
        factory=factory,
        model=model,
        policy=policy,
        now=NOW,
        rng=random.Random(0),
    )


@pytest.fixture
def model(factory: sessionmaker[Session], trained: TrainedModel) -> LoadedModel:
    """The sample model, active, with an admin bar of 0: every prediction is confident."""
    version = install_model(factory, trained)
    return LoadedModel(version, trained.model, trained.thresholds)


def test_the_card_text_is_a_confident_card_arrival(
    factory: sessionmaker[Session], settings: Settings, model: LoadedModel
) -> None:
    """The premise of the tests below."""
    admin(set_threshold, 0.0, factory=factory, settings=settings)
    ticket = submit(factory, settings, model).ticket
    assert (ticket.status, ticket.final_label, ticket.predicted_label) == ("auto", CARD, CARD)


def test_a_retired_label_is_never_applied_nor_offered(
    factory: sessionmaker[Session], settings: Settings, model: LoadedModel
) -> None:
    admin(set_threshold, 0.0, factory=factory, settings=settings)
    admin(retire_label, CARD, factory=factory, settings=settings)
    ticket = submit(factory, settings, model).ticket
    assert ticket.status == TicketStatus.PENDING and ticket.decision == "review"
    assert ticket.final_label is None
    shown = [label for label, _ in ticket.suggestions or []]
    assert CARD not in shown and ticket.predicted_label == shown[0]
    # The bar of the label shown (threshold 0, raised to the floor), not the retired one's.
    assert ticket.threshold == settings.confidence_floor

    admin(add_label, CARD, None, factory=factory, settings=settings)  # brought back
    assert submit(factory, settings, model, CARD_TEXT + "!").ticket.final_label == CARD


def test_a_renamed_label_keeps_its_route_and_its_bar(
    factory: sessionmaker[Session], settings: Settings, model: LoadedModel
) -> None:
    admin(set_threshold, 0.0, factory=factory, settings=settings)
    admin(rename_label, CARD, "card_late", factory=factory, settings=settings)
    admin(route_label, "card_late", "C0ROUTE", factory=factory, settings=settings)
    ticket = submit(factory, settings, model).ticket
    assert (ticket.status, ticket.final_label, ticket.predicted_label) == (
        "auto",
        "card_late",
        "card_late",
    )
    assert (ticket.suggestions or [])[0][0] == "card_late"
    with factory() as session:
        routes = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ROUTE)
        ).all()
    assert [(r.ticket_id, r.payload["channel"]) for r in routes] == [(ticket.id, "C0ROUTE")]

    # The admin's bar for the new name reaches the model's class of the old name.
    admin(set_label_threshold, "card_late", 1.0, factory=factory, settings=settings)
    held = submit(factory, settings, model, CARD_TEXT + "!").ticket
    assert (held.status, held.predicted_label, held.threshold) == ("pending", "card_late", 1.0)


def test_a_renamed_label_stays_never_automatic_when_the_model_said_so(
    factory: sessionmaker[Session], settings: Settings, trained: TrainedModel
) -> None:
    """Too few examples at training time: the model's `never_auto` follows the rename."""
    version = install_model(factory, trained)
    tuned = Thresholds(0.0, {}, frozenset({CARD}))
    model = LoadedModel(version, trained.model, tuned)
    admin(rename_label, CARD, "card_late", factory=factory, settings=settings)
    ticket = submit(factory, settings, model).ticket
    assert (ticket.status, ticket.predicted_label) == ("pending", "card_late")
    assert ticket.threshold == float("inf")


def test_retraining_leaves_retired_labels_out(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    with factory.begin() as session:
        ensure_labels(["kept", "gone"], session=session, now=NOW)
        for label in ("kept", "gone", "kept"):
            session.add(
                Ticket(
                    text=label,
                    created_at=NOW,
                    status=TicketStatus.LABELLED,
                    final_label=label,
                    decided_by="UALICE",
                    decided_at=NOW,
                )
            )
    admin(retire_label, "gone", factory=factory, settings=settings)
    with factory() as session:
        assert [e.label for e in labelled_examples(session=session)] == ["kept", "kept"]
    admin(add_label, "gone", None, factory=factory, settings=settings)
    with factory() as session:
        assert sorted(e.label for e in labelled_examples(session=session)) == [
            "gone",
            "kept",
            "kept",
        ]


def renames(*steps: tuple[str, str, int], labels: set[str]) -> Policy:
    return Policy(renames=tuple(Rename(*step) for step in steps), labels=frozenset(labels))


@pytest.mark.parametrize(
    ("steps", "labels", "classes", "version", "expected"),
    [
        # stored before the rename: the old class gets the new name
        ([("a", "b", 3)], {"b"}, ["a", "x"], 3, {"a": "b"}),
        # trained after it: nothing to rename
        ([("a", "b", 3)], {"b"}, ["b", "x"], 4, {}),
        # trained while the rename happened (read the old name), old name unused: renamed
        ([("a", "b", 3)], {"b"}, ["a", "x"], 4, {"a": "b"}),
        # a chain of renames ends at the last name
        ([("a", "b", 3), ("b", "c", 3)], {"c"}, ["a"], 3, {"a": "c"}),
        # renamed there and back: nothing changes for the old model
        ([("a", "b", 3), ("b", "a", 3)], {"a"}, ["a"], 3, {}),
        # the old name given to a new label later: an old model still means the renamed one...
        ([("a", "b", 3)], {"a", "b"}, ["a"], 3, {"a": "b"}),
        # ... and a model trained on the new label keeps its own "a"
        ([("a", "b", 3)], {"a", "b"}, ["a"], 5, {}),
        # two labels swapped through a temporary name
        (
            [("a", "t", 3), ("b", "a", 3), ("t", "b", 3)],
            {"a", "b"},
            ["a", "b"],
            3,
            {"a": "b", "b": "a"},
        ),
    ],
)
def test_label_map_replays_renames_on_the_models_names(
    steps: list[tuple[str, str, int]],
    labels: set[str],
    classes: list[str],
    version: int,
    expected: dict[str, str],
) -> None:
    assert renames(*steps, labels=labels).label_map(classes, version) == expected


def test_overrides_and_retirements_reach_the_models_old_names() -> None:
    policy = Policy(
        label_thresholds={"b": 0.9, "a": 0.1},
        renames=(Rename("a", "b", 3),),
        labels=frozenset({"a", "b", "r"}),
        retired=frozenset({"r"}),
    )
    renamed = policy.label_map(["a", "r", "x"], 3)
    bars = policy.thresholds_for(Thresholds(0.5), renamed)
    assert bars.for_label("a") == 0.9  # the class "a" is the label now called "b"
    assert bars.for_label("r") == float("inf") and bars.for_label("x") == 0.5
    assert policy.thresholds_for(Thresholds(0.5)).for_label("a") == 0.1  # no model names given

"""Reviewer error in retraining: what second answers show, and thresholds corrected by it."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.services.importing import LabelledRow, import_labelled_rows, read_labelled_csv
from bot.services.models import load_active, retrain
from bot.services.policy import DOUBTFUL_REVIEWERS, REVIEWER_ACCURACY
from bot.services.reliability import (
    doubtful_reviewers,
    label_error_bounds,
    reviewer_reliability,
    reviewer_standing,
)
from bot.services.second_opinions import OpinionRules, SecondOpinion, why_doubt
from bot.settings import Settings
from classifier import evaluate
from storage.models import ModelVersion, Review, ReviewKind, Ticket, TicketStatus
from storage.queries.runtime_settings import runtime_settings
from storage.queries.tickets import labelled_examples
from tests.conftest import SAMPLE_HOLDOUT, SAMPLE_TRAIN

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def team_answers(
    rows: list[LabelledRow],
    *,
    error: float,
    double_share: float,
    seed: int = 0,
    first: tuple[str, ...] = ("UALICE",),
) -> tuple[list[Ticket], int]:
    """Alice (or the `first` people, in turn) answers every ticket, wrong `error` of the
    time (any other label); Bob, always right, gives a second answer on `double_share` of
    them, and where the two disagree Carol settles it. Returns the tickets and how many of
    the single answers were wrong."""
    rng = random.Random(seed)
    labels = sorted({row.label for row in rows})
    tickets, wrong_singles = [], 0
    for i, row in enumerate(rows):
        when = START + timedelta(minutes=i)
        alice = row.label
        if rng.random() < error:
            alice = rng.choice([label for label in labels if label != row.label])
        answers = [(first[i % len(first)], alice)]
        if rng.random() < double_share:
            answers.append(("UBOB", row.label))
            if alice != row.label:
                answers.append(("UCAROL", row.label))
            final = row.label
        else:
            final, wrong_singles = alice, wrong_singles + (alice != row.label)
        ticket = Ticket(
            text=row.text,
            created_at=when,
            status=TicketStatus.LABELLED,
            final_label=final,
            decided_by=answers[-1][0],
            decided_at=when,
        )
        ticket.reviews = [
            Review(slack_user=user, label=label, kind=ReviewKind.REVIEW, created_at=when)
            for user, label in answers
        ]
        tickets.append(ticket)
    return tickets, wrong_singles


def stored_bounds(
    factory: sessionmaker[Session], tickets: list[Ticket]
) -> tuple[dict[int, float], Any]:
    """Store `tickets`, then each labelled ticket's least error and the reviewers' reliability
    (every answer counted, no model priors) a day after the answers."""
    with factory.begin() as session:
        session.add_all(tickets)
    later = START + timedelta(days=1)
    with factory() as session:
        examples = labelled_examples(session=session)
        bounds = dict(
            zip(
                (e.ticket_id for e in examples),
                label_error_bounds(examples, session=session, now=later),
                strict=True,
            )
        )
        return bounds, reviewer_reliability(
            session=session, now=later, days=None, model_priors=False
        )


def test_second_answers_show_how_wrong_single_answers_are_at_least(
    factory: sessionmaker[Session],
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    tickets, wrong_singles = team_answers(parsed[:1000], error=0.1, double_share=0.4)
    with factory.begin() as session:
        session.add_all(tickets)
        import_labelled_rows(parsed[1000:1100], session=session, now=START)
    with factory() as session:
        examples = labelled_examples(session=session)
        bounds = dict(
            zip(
                (e.ticket_id for e in examples),
                label_error_bounds(examples, session=session, now=START + timedelta(days=1)),
                strict=True,
            )
        )
        agreed = {t.id for t in tickets if len(t.reviews) > 1}
        singles = {t.id for t in tickets if len(t.reviews) == 1}
    imported = set(bounds) - agreed - singles
    assert len(imported) == 100 and all(bounds[t] == 0.0 for t in imported)
    assert all(bounds[t] == 0.0 for t in agreed)  # two people gave the label
    alice = {bounds[t] for t in singles}
    assert len(alice) == 1
    # the least error the 400-odd shared tickets allow: above zero, not above the truth
    assert 0.04 < alice.pop() <= wrong_singles / len(singles)
    with factory() as session:
        later = START + timedelta(days=1)
        # Alice, right 90% of the time, is under a 95% target even at the top of her interval
        assert doubtful_reviewers(session=session, now=later, target=0.95) == ["UALICE"]


def test_a_teams_single_answers_are_bounded_together_nearer_their_error(
    factory: sessionmaker[Session],
) -> None:
    """Six people answer in turn, wrong 6% of the time; Bob checks 15% of their answers.
    Each person alone is checked on some 25 tickets, so the bottom of their own interval
    says little; the labels' mean least error is the team's, from all 150 checked: above
    the mean of those bottoms, and not above the share of single answers truly wrong."""
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    team = tuple(f"U{name}" for name in ("ADA", "BEA", "CYD", "DAN", "EVE", "FOX"))
    tickets, wrong_singles = team_answers(
        parsed[:1000], error=0.06, double_share=0.15, seed=5, first=team
    )
    bounds, alone = stored_bounds(factory, tickets)
    singles = [t for t in tickets if len(t.reviews) == 1]
    mean_least = sum(bounds[t.id] for t in singles) / len(singles)
    own_bottoms = sum(alone[t.reviews[0].slack_user].least_error() for t in singles) / len(singles)
    assert own_bottoms < mean_least <= wrong_singles / len(singles)


def test_second_answers_asked_because_an_answer_looked_wrong_do_not_inflate_the_bound(
    factory: sessionmaker[Session],
) -> None:
    """Alice is wrong a tenth of the time; a confident model contradicts most of her wrong
    answers, which Bob (always right) and Carol then check. On those tickets Alice is
    nearly always wrong, so counting them would put her least error far above that of
    the single answers she leaves in training; only the random share of the others
    (drawn, as the service draws it, among answers nothing made doubtful) may judge."""
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    rng = random.Random(3)
    labels = sorted({row.label for row in parsed})
    tickets, singles, wrong_singles = [], [], 0
    for i, row in enumerate(parsed[:1000]):
        when = START + timedelta(minutes=i)
        alice = row.label
        if rng.random() < 0.1:
            alice = rng.choice([label for label in labels if label != row.label])
        reason = None
        if alice != row.label and rng.random() < 0.8:
            reason = "contradicts"
        elif rng.random() < 0.4:
            reason = "sample"
        answers = [("UALICE", alice)]
        if reason is not None:
            answers.append(("UBOB", row.label))
            if alice != row.label:
                answers.append(("UCAROL", row.label))
        final = answers[-1][1]
        ticket = Ticket(
            text=row.text,
            created_at=when,
            status=TicketStatus.LABELLED,
            final_label=final,
            decided_by=answers[-1][0],
            decided_at=when,
            second_opinion=reason,
        )
        ticket.reviews = [
            Review(slack_user=user, label=label, kind=ReviewKind.REVIEW, created_at=when)
            for user, label in answers
        ]
        tickets.append(ticket)
        if reason is None:
            singles.append(ticket)
            wrong_singles += alice != row.label
    bounds, everything = stored_bounds(factory, tickets)
    alice = {bounds[t.id] for t in singles}
    assert len(alice) == 1
    least = alice.pop()
    assert 0.0 < least <= wrong_singles / len(singles)  # above zero, not above the truth
    # Counting the checked-because-doubtful tickets too would overstate it several times.
    assert 1.0 - everything["UALICE"].interval[1] > 3 * wrong_singles / len(singles)


def test_thresholds_corrected_for_reviewer_error_automate_what_noisy_labels_would_refuse(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    holdout, _, _ = read_labelled_csv(SAMPLE_HOLDOUT, text_column="text", label_column="label")
    tickets, _ = team_answers(parsed, error=0.1, double_share=0.3)
    with factory.begin() as session:
        session.add_all(tickets)
    target = settings.with_overrides(target_precision=0.9, label_screening_max=0.0)

    outcome = retrain(factory, settings=target, now=lambda: START + timedelta(days=2))

    # Measured against the team's labels (a tenth of Alice's single answers wrong) the
    # automated share falls short of the target; measured against the truth it meets it.
    assert outcome.promoted and outcome.label_error > 0.03
    assert outcome.cv.auto_precision is not None and outcome.cv.auto_precision < 0.9
    with factory() as session:
        active = load_active(session=session)
    assert active is not None and active.thresholds.default < 1.0
    truth = evaluate(
        active.model, [r.text for r in holdout], [r.label for r in holdout], active.thresholds
    )
    assert truth.coverage > 0.3
    assert truth.auto_precision is not None and truth.auto_precision >= 0.9
    # Retraining keeps the people under target for the listeners (none here: Alice's
    # interval reaches above 90%).
    with factory() as session:
        stored = runtime_settings(session=session)
        later = START + timedelta(days=2)
        doubtful, accuracy = reviewer_standing(session=session, now=later, target=0.9)
        assert stored.get(DOUBTFUL_REVIEWERS, []) == doubtful
        assert doubtful == doubtful_reviewers(session=session, now=later, target=0.9)
        # and each one's estimated accuracy, which sets how second opinions are spent on
        # them: Alice, wrong a tenth of the time, under Bob, who never is
        assert stored[REVIEWER_ACCURACY] == accuracy
        assert 0.8 < accuracy["UALICE"] < 0.93 < accuracy["UBOB"]


def test_imported_history_with_wrong_labels_is_corrected_by_what_answered_labels_show(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    holdout, _, _ = read_labelled_csv(SAMPLE_HOLDOUT, text_column="text", label_column="label")
    rng = random.Random(1)
    rng.shuffle(parsed)  # the sample is sorted by label: history and answers alike
    labels = sorted({row.label for row in parsed})
    history = []
    for row in parsed[:1300]:  # a hurried helpdesk: 8% of imported labels wrong
        wrong = rng.random() < 0.08
        label = rng.choice([x for x in labels if x != row.label]) if wrong else row.label
        history.append(LabelledRow(text=row.text, label=label, key=row.key))
    # Answers are right; Bob's second answers on a third of them show Alice is.
    answered, _ = team_answers(parsed[1300:], error=0.0, double_share=0.3)
    with factory.begin() as session:
        import_labelled_rows(history, session=session, now=START)
        session.add_all(answered)
    target = settings.with_overrides(target_precision=0.92, label_screening_max=0.0)

    outcome = retrain(factory, settings=target, now=lambda: START + timedelta(days=2))

    with factory() as session:
        active = load_active(session=session)
        version = session.get(ModelVersion, outcome.version_id)
        assert version is not None
        found = version.metrics["label_error"]["imported"]
    # The model contradicts imported labels more than answered ones: at least a few points
    # of them are shown wrong, never more than were planted, and the alert counts them.
    assert 0.02 < found["bound"] < 0.08
    assert outcome.label_error > 0.01
    # Against labels as wrong as the imported ones the automated share falls short of the
    # target; against the truth it meets it.
    assert active is not None and active.thresholds.default < 1.0
    texts = [r.text for r in holdout]
    hurried = [  # one in twelve (8%) wrong, as in the history
        labels[(labels.index(r.label) + 1) % len(labels)] if k % 12 == 0 else r.label
        for k, r in enumerate(holdout)
    ]
    noisy = evaluate(active.model, texts, hurried, active.thresholds)
    truth = evaluate(active.model, texts, [r.label for r in holdout], active.thresholds)
    assert truth.coverage > 0.2
    assert noisy.auto_precision is not None and noisy.auto_precision < 0.92
    assert truth.auto_precision is not None and truth.auto_precision >= 0.92


def test_a_doubtful_reviewer_is_shown_as_right_as_their_random_draw_says(
    factory: sessionmaker[Session],
) -> None:
    """Fox, estimated below target, is wrong a fifth of the time, half of it by taking the
    model's wrong first suggestion. The service checks a random draw of Fox's answers and
    every one a sure model does not back (`why_doubt`); Bob, always right, answers second and
    Carol settles a disagreement. Those unbacked answers are wrong far more often than
    Fox's answers in general, so the accuracy shown must come from the draw alone."""
    parsed, _, _ = read_labelled_csv(SAMPLE_TRAIN, text_column="text", label_column="label")
    rng = random.Random(11)
    labels = sorted({row.label for row in parsed})
    rules = OpinionRules(share=0.05, model_sure=0.5, doubtful=frozenset({"UFOX"}))
    tickets, wrong, reasons = [], 0, Counter[str | None]()
    for i, row in enumerate(parsed[:1000]):
        when = START + timedelta(minutes=i)
        others = [label for label in labels if label != row.label]
        top = row.label if rng.random() < 0.65 else rng.choice(others)
        fox = row.label
        if rng.random() < 0.2:
            fox = top if top != row.label and rng.random() < 0.5 else rng.choice(others)
        wrong += fox != row.label
        ticket = Ticket(
            id=i + 1, text=row.text, created_at=when, suggestions=[[top, 0.8]], novel=False
        )
        reason = why_doubt(ticket, user="UFOX", label=fox, rules=rules)
        reasons[reason] += 1
        answers = [("UFOX", fox)]
        if reason is not None:
            answers.append(("UBOB", row.label))
            if fox != row.label:
                answers.append(("UCAROL", row.label))
        ticket.status = TicketStatus.LABELLED
        ticket.final_label = answers[-1][1]
        ticket.decided_by = answers[-1][0]
        ticket.decided_at = when
        ticket.second_opinion = reason
        ticket.reviews = [
            Review(slack_user=user, label=label, kind=ReviewKind.REVIEW, created_at=when)
            for user, label in answers
        ]
        tickets.append(ticket)
    with factory.begin() as session:
        session.add_all(tickets)
    right = 1.0 - wrong / len(tickets)
    # About 30% drawn, and most of the rest checked only where unbacked: about 600 of 1,000.
    assert 250 < reasons[SecondOpinion.DOUBTFUL] < 350
    assert 250 < reasons[SecondOpinion.UNBACKED] < 400
    assert reasons[None] > 300  # backed by the model and not drawn: one answer
    later = START + timedelta(days=1)
    with factory() as session:
        shown = reviewer_reliability(session=session, now=later, days=None)["UFOX"]
        every = reviewer_reliability(
            session=session, now=later, days=None, reasons=(None, *SecondOpinion)
        )["UFOX"]
    assert shown.interval[0] <= right <= shown.interval[1]
    assert abs(shown.accuracy - right) < 0.05
    assert every.interval[1] < right - 0.03  # the unbacked answers counted: far too low

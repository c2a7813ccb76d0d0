"""Each reviewer's estimated accuracy, from every stored answer (classifier.reliability).

Tickets with several answers, and tickets the model was confident about (its calibrated
suggestions enter as the ticket's prior), tell how often each person is right without
anyone knowing the right answers.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.second_opinions import SecondOpinion
from classifier import Decision
from classifier.reliability import (
    ReviewerEstimate,
    estimate_reliability,
    pooled_least_error,
    shown_error,
)
from storage.models import Review, ReviewKind, Ticket
from storage.queries.tickets import LabelledExample

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Tickets whose second answers say how often single answers are wrong without selection
# bias: no second opinion (or a quorum), the random share, and the random draw of a
# doubtful reviewer's answers. A first answer that contradicted the model, or a label screening
# suspected, was asked again *because* it looked wrong: on the 5%-wrong simulated team a
# far larger share of those first answers is wrong than of answers in general, and counting
# them overstates each person's error, so thresholds corrected by it are corrected too far.
UNSELECTED: tuple[str | None, ...] = (None, SecondOpinion.SAMPLE, SecondOpinion.DOUBTFUL)
# What the accuracy shown and acted on (`/triage reviewers`, App Home, who is doubtful)
# counts: every ticket but a doubtful reviewer's answers checked because the model did not
# back them. Those people are measured on the random draw of their answers instead
# (`bot.services.second_opinions.DOUBTFUL_DRAW`); counting the unbacked ones too put a
# synthetic reviewer right 79% of the time at 70% (tests/bot/test_label_error.py). For
# everyone else the contradicted answers stay in, on the cautious side: leaving them out
# would hide a new, careless reviewer's mistakes, most of which a confident model
# contradicts, and so keep them from ever being found doubtful.
SHOWN: tuple[str | None, ...] = (None, *(r for r in SecondOpinion if r != SecondOpinion.UNBACKED))


def reviewer_reliability(
    *,
    session: Session,
    now: datetime,
    days: int | None,
    model_priors: bool = True,
    reasons: Collection[str | None] = SHOWN,
) -> dict[str, ReviewerEstimate]:
    """Estimated accuracy with an interval per person who answered in the last `days` days
    (None: ever).

    Without `model_priors` only tickets several people answered count: what judges the
    model's audits, or the model itself, must not rest on the model's own confidence.
    Only tickets whose second-opinion reason (`Ticket.second_opinion`) is one of `reasons`
    count (`SHOWN` by default): `UNSELECTED` leaves out every ticket asked again because
    its first answer looked wrong, on which first answers are wrong far more often than on
    the rest.
    """
    query = (
        select(
            Review.ticket_id, Review.slack_user, Review.label, Ticket.decision, Ticket.suggestions
        )
        .join(Ticket, Review.ticket_id == Ticket.id)
        .where(
            Review.created_at >= (EPOCH if days is None else now - timedelta(days=days)),
            Review.created_at <= now,
            Review.label.is_not(None),
            Review.undone_at.is_(None),
        )
        .order_by(Review.id)
    )
    named = [reason for reason in reasons if reason is not None]
    chosen = Ticket.second_opinion.in_(named)
    query = query.where(chosen | Ticket.second_opinion.is_(None) if None in reasons else chosen)
    rows = list(session.execute(query))
    if not rows:
        return {}
    suggested = [str(name) for *_, decision, suggestions in rows for name, _ in (suggestions or [])]
    classes = sorted({str(label) for _, _, label, _, _ in rows} | set(suggested))
    position = {name: k for k, name in enumerate(classes)}
    items: dict[int, int] = {}
    answers, priors = [], {}
    seen: set[tuple[int, str]] = set()
    for ticket_id, user, label, decision, suggestions in rows:
        if (ticket_id, user) in seen:  # a changed answer: the first one counted
            continue
        seen.add((ticket_id, user))
        item = items.setdefault(ticket_id, len(items))
        answers.append((item, user, str(label)))
        confident = decision in (Decision.AUTO, Decision.AUDIT)
        if model_priors and confident and suggestions and item not in priors:
            priors[item] = _prior(suggestions, position)
    fitted = estimate_reliability(answers, classes, n_items=len(items), item_priors=priors)
    return {str(name): estimate for name, estimate in fitted.reviewers.items()}


def _prior(suggestions: list[list[object]], position: dict[str, int]) -> np.ndarray:
    """The model's probabilities: its top suggestions, the rest spread over other labels."""
    prior = np.zeros(len(position))
    for name, probability in suggestions:
        prior[position[str(name)]] = float(str(probability))
    rest = max(0.0, 1.0 - prior.sum())
    unnamed = prior == 0
    if unnamed.any():
        prior[unnamed] = rest / unnamed.sum()
    return prior


def audit_answer_error(*, session: Session, now: datetime, days: int) -> float | None:
    """The share of audits in the window whose settled label is wrongly against the model,
    at least.

    Only a wrong answer that disagrees with the automatic label makes a right label look
    wrong; one that agrees (accepting a wrong label) flatters the model. A contradiction
    two people agreed on, which second opinions ask for when the model was sure or the
    auditor doubtful (``bot.services.second_opinions``), counts as right. So per auditor,
    among the audits settled on their answer alone: as many wrong answers as their least
    error (the top of their accuracy interval, estimated from tickets several people
    answered, never from the model) expects of that many audits, but no more than the ones
    that contradicted the model. Never more than counting every audit answer at its
    author's least error, as this did before second opinions reached audits; nothing where
    no lone answer contradicted the model. A least figure, so a precision corrected by it is
    never corrected too far. None: no settled audits.
    """
    query = (
        select(Review.ticket_id, Review.slack_user, Review.label, Ticket.predicted_label)
        .join(Ticket, Review.ticket_id == Ticket.id)
        .where(
            Review.kind == ReviewKind.AUDIT,
            Review.created_at >= now - timedelta(days=days),
            Review.created_at <= now,
            Review.label.is_not(None),
            Review.undone_at.is_(None),
            Ticket.decided_by.is_not(None),
            Ticket.final_label == Review.label,
        )
    )
    givers: dict[int, set[str]] = defaultdict(set)
    against: dict[int, bool] = {}
    for ticket_id, user, label, predicted in session.execute(query):
        givers[ticket_id].add(str(user))
        against[ticket_id] = label != predicted
    if not givers:
        return None
    alone: Counter[str] = Counter()
    contradicting: Counter[str] = Counter()
    for ticket_id, users in givers.items():
        if len(users) == 1:
            (user,) = users
            alone[user] += 1
            contradicting[user] += against[ticket_id]
    if not sum(contradicting.values()):
        return 0.0
    estimates = reviewer_reliability(session=session, now=now, days=days, model_priors=False)
    wrong = sum(
        min(float(contradicting[user]), count * (1.0 - estimates[user].interval[1]))
        for user, count in alone.items()
        if user in estimates
    )
    return wrong / len(givers)


def label_error_bounds(
    examples: Sequence[LabelledExample], *, session: Session, now: datetime
) -> list[float]:
    """Per example, the least chance its label is wrong that the evidence can show.

    A label two people gave is taken as right (0). A label one person gave carries that
    person's error at the top of their accuracy interval, estimated from tickets several
    people answered and never from the model (the model being judged must not vouch for
    the labels it is judged on). Imported history and people never checked against anyone
    carry 0 here (retraining bounds imported history apart: ``classifier.label_noise.
    imported_noise_bound``). Correcting a precision bound by these figures can only be too
    timid, never too bold, as long as a person errs no less on the tickets they are asked
    than on average.
    """
    return [least for least, _ in answer_errors(examples, session=session, now=now)]


def answer_errors(
    examples: Sequence[LabelledExample], *, session: Session, now: datetime
) -> list[tuple[float, float]]:
    """Per example: (least error the evidence shows, estimated error) of its label.

    The first is ``label_error_bounds``'s, from second answers on tickets not asked again
    because they looked wrong (``UNSELECTED``) and on the evidence alone (the prior that
    keeps a new reviewer's estimate from 100% is no evidence of error), bounded for the
    single-answer labels together rather than person by person (``_team_least_errors``):
    thresholds are corrected by the covered labels' mean error, not each one's. The second is a
    best guess, not a bound: its one answerer's estimated error (1 - accuracy), 0 for a
    label two people gave or nobody named. It is what answered labels' own errors are
    taken to be when they serve as the reference that bounds imported history's errors,
    where the larger figure is the cautious side (and the estimates put people's accuracy
    below their truth), and what caps how many answered labels screening leaves out.
    """
    wanted = {e.ticket_id for e in examples}
    givers: dict[tuple[int, str], set[str]] = defaultdict(set)
    query = select(Review.ticket_id, Review.slack_user, Review.label).where(
        Review.label.is_not(None), Review.undone_at.is_(None)
    )
    for ticket_id, user, label in session.execute(query):
        if ticket_id in wanted:
            givers[(ticket_id, str(label))].add(str(user))
    singles = {next(iter(users)) for users in givers.values() if len(users) == 1}
    estimates = (
        reviewer_reliability(
            session=session, now=now, days=None, model_priors=False, reasons=UNSELECTED
        )
        if singles
        else {}
    )
    answerers = []
    for example in examples:
        users = givers.get((example.ticket_id, example.label), set())
        answerers.append(estimates.get(next(iter(users))) if len(users) == 1 else None)
    least = _team_least_errors([a for a in answerers if a is not None])
    return [
        (0.0, 0.0)  # agreed on, imported, or never checked
        if estimate is None
        else (least.get(estimate.reviewer, 0.0), 1.0 - estimate.accuracy)
        for estimate in answerers
    ]


def _team_least_errors(answerers: Sequence[ReviewerEstimate]) -> dict[object, float]:
    """Per person, their part of the least mean error of these single-answer labels (one
    entry per label): the team's pooled bound (``pooled_least_error``), shared out in
    proportion to the share of each person's answers shown wrong, so that the labels' mean
    is the bound.

    Each person's own bottom was used before: on the simulated team wrong 5% of the time,
    that averaged 1.9-2.2% over the training labels against 3.7% of settled labels truly
    wrong, and thresholds stayed at 0.93-0.97 (automation 70%, 5,406 answers).
    """
    counts = Counter(estimate.reviewer for estimate in answerers)
    people = {estimate.reviewer: estimate for estimate in answerers}
    checked = [(people[name], float(n)) for name, n in counts.items() if people[name].evidence > 0]
    if not checked:
        return {}
    mean = sum(shown_error(e) * n for e, n in checked) / sum(n for _, n in checked)
    scale = min(1.0, pooled_least_error(checked) / mean) if mean > 0 else 0.0
    return {e.reviewer: shown_error(e) * scale for e, _ in checked}


# Whose recent answers judge whether they are doubtful: long enough to hold evidence, short
# enough that someone who learned is not held to last quarter's mistakes.
DOUBTFUL_WINDOW_DAYS = 30


def doubtful_reviewers(*, session: Session, now: datetime, target: float) -> list[str]:
    """People whose estimated accuracy is below `target` even at the top of its interval:
    their single answer cannot be trusted to the precision automation is held to."""
    return reviewer_standing(session=session, now=now, target=target)[0]


def reviewer_standing(
    *, session: Session, now: datetime, target: float
) -> tuple[list[str], dict[str, float]]:
    """The doubtful reviewers (``doubtful_reviewers``) and each person's estimated accuracy
    over their recent answers (3 decimals, rounded down).

    The second decides how second opinions are spent on them
    (``bot.services.second_opinions``): a contradicting model must be surer than they are
    estimated right to cast doubt on an answer, and the random share of their answers
    shrinks as their estimated error falls below the target's slack. The estimate starts
    from the prior (80% right, worth four answers) and leans on the model's confident
    predictions, which put people below their truth, so it errs towards more checks.
    """
    estimates = reviewer_reliability(session=session, now=now, days=DOUBTFUL_WINDOW_DAYS)
    doubtful = sorted(user for user, e in estimates.items() if e.interval[1] < target)
    accuracy = {user: math.floor(e.accuracy * 1000) / 1000 for user, e in estimates.items()}
    return doubtful, dict(sorted(accuracy.items()))

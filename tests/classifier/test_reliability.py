"""Reviewer reliability on synthetic answer sets whose reviewers' accuracies are known."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.reliability import (
    ReviewerEstimate,
    estimate_reliability,
    jeffreys_interval,
    pooled_least_error,
)

CLASSES = [f"c{k}" for k in range(6)]
ACCURACY = {"ann": 0.98, "bob": 0.95, "cat": 0.9, "dan": 0.85, "eve": 0.8, "fox": 0.6}


def _team_answers(seed: int, n: int = 800) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Two or three people per ticket; a wrong answer is usually the next label (confusable)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(len(CLASSES), size=n)
    names = list(ACCURACY)
    answers = []
    for item in range(n):
        for person in rng.choice(len(names), size=rng.integers(2, 4), replace=False):
            name = names[person]
            label = truth[item]
            if rng.random() >= ACCURACY[name]:
                label = (label + rng.choice([1, 1, 1, 2])) % len(CLASSES)
            answers.append((item, name, CLASSES[label]))
    return truth, answers


def test_estimates_each_reviewers_accuracy_within_five_points() -> None:
    truth, answers = _team_answers(seed=0)
    fitted = estimate_reliability(answers, CLASSES, n_items=len(truth))
    for name, true_accuracy in ACCURACY.items():
        estimate = fitted.reviewers[name]
        assert abs(estimate.accuracy - true_accuracy) < 0.05, (name, estimate)
        assert estimate.interval[0] <= true_accuracy + 0.02
        assert estimate.interval[1] >= true_accuracy - 0.02
    lowest = min(fitted.reviewers.values(), key=lambda e: e.accuracy)
    assert lowest.reviewer == "fox"
    settled = np.asarray([CLASSES.index(fitted.settled(i)[0]) for i in range(len(truth))])
    assert (settled == truth).mean() > 0.95


def test_finds_the_label_a_careless_reviewer_confuses() -> None:
    truth, answers = _team_answers(seed=1)
    fitted = estimate_reliability(answers, CLASSES, n_items=len(truth))
    true, answered, share = fitted.reviewers["fox"].confusions[0]
    assert CLASSES.index(answered) == (CLASSES.index(true) + 1) % len(CLASSES)
    assert share > 0.2


def test_single_answers_are_judged_by_the_confident_model_or_not_at_all() -> None:
    rng = np.random.default_rng(2)
    n = 600
    truth = rng.integers(len(CLASSES), size=n)
    answers, priors = [], {}
    for item in range(n):
        name = "careful" if item % 3 else "unchecked"
        wrong = rng.random() >= (0.95 if name == "careful" else 0.7)
        label = (truth[item] + 1) % len(CLASSES) if wrong else truth[item]
        answers.append((item, name, CLASSES[label]))
        if name == "careful" and item % 2:
            prior = np.full(len(CLASSES), 0.02 / (len(CLASSES) - 1))
            prior[truth[item]] = 0.98
            priors[item] = prior
    fitted = estimate_reliability(answers, CLASSES, n_items=n, item_priors=priors)
    careful, unchecked = fitted.reviewers["careful"], fitted.reviewers["unchecked"]
    assert abs(careful.accuracy - 0.95) < 0.04
    assert careful.evidence > 150
    # Nobody else saw the unchecked person's tickets: no evidence, a wide interval.
    assert unchecked.evidence < 10
    assert unchecked.interval[1] - unchecked.interval[0] > 0.5


def test_jeffreys_interval_narrows_with_evidence() -> None:
    wide = jeffreys_interval(0.9, 10, 0.95)
    narrow = jeffreys_interval(0.9, 1000, 0.95)
    assert wide[0] < narrow[0] < 0.9 < narrow[1] < wide[1]
    assert jeffreys_interval(0.5, 0, 0.95) == (0.0, 1.0)
    assert jeffreys_interval(1.0, 20, 0.95)[1] == pytest.approx(1.0)


def test_one_label_and_no_answers_are_handled() -> None:
    fitted = estimate_reliability([(0, "ann", "c0"), (1, "ann", "c0")], ["c0"])
    assert fitted.reviewers["ann"].accuracy > 0.8
    assert estimate_reliability([], CLASSES).reviewers == {}


def _checked(name: str, rng: np.random.Generator, *, error: float, n: int) -> ReviewerEstimate:
    """A reviewer whose `n` answers were all settled by others, `error` of them wrong."""
    wrong = int(rng.binomial(n, error))
    return ReviewerEstimate(
        reviewer=name,
        answers=n,
        accuracy=1.0 - wrong / n,
        interval=(0.0, 1.0),
        evidence=float(n),
        confusions=(),
        right=float(n - wrong),
    )


def test_one_persons_pooled_bound_is_their_own_least_error() -> None:
    alone = _checked("ann", np.random.default_rng(0), error=0.05, n=80)
    assert alone.least_error() > 0
    assert pooled_least_error([(alone, 30.0)]) == pytest.approx(alone.least_error(), rel=1e-9)
    never_wrong = _checked("bob", np.random.default_rng(0), error=0.0, n=80)
    assert pooled_least_error([(never_wrong, 30.0)]) == 0.0 == never_wrong.least_error()


def test_a_teams_pooled_bound_is_nearer_its_error_and_still_below_it() -> None:
    """Six people wrong 5% of the time, each checked on 70 tickets: the mean of their own
    bottoms is far under 5%; the pooled bound is above that mean, and under the truth in
    all but about the bound's 5% tail of 300 draws (17 here)."""
    above_mean_of_bottoms, over_truth = 0, 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        team = [_checked(f"u{k}", rng, error=0.05, n=70) for k in range(6)]
        pooled = pooled_least_error([(e, 100.0) for e in team])
        bottoms = float(np.mean([e.least_error() for e in team]))
        above_mean_of_bottoms += pooled > bottoms
        over_truth += pooled > 0.05
    assert above_mean_of_bottoms == 300
    assert over_truth <= 0.08 * 300  # the bound's tail is 5%: 15 expected, 24 is 2.4 sd over

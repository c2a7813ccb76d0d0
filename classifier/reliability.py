"""How often each reviewer is right, estimated without knowing the right answers.

A Dawid–Skene model (Dawid & Skene, 1979) fitted by EM: every ticket has an unknown true
label, every reviewer answers it through their own confusion matrix, and the answers of
several people on one ticket (and the model's calibrated probabilities where it was
confident) pin the true label down well enough to learn each person's matrix. With a few
dozen answers a full K×K matrix per person is mostly guesswork, so each person's matrix is
shrunk towards a "one-coin" matrix (their own accuracy on the diagonal, the team's pooled
confusions off it): a prolific reviewer's own confusions show, a new one's accuracy alone.

Written on numpy rather than taken from crowd-kit (Apache-2.0, but it brings pandas, nltk
and more for one function) or cleanlab (AGPL-3.0, unusable in an MIT service).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta

# Beta pseudo-counts on every reviewer's accuracy: worth four answers, 80% of them right.
# Keeps a reviewer seen twice from being estimated at 0% or 100%.
PRIOR_RIGHT = 3.2
PRIOR_WRONG = 0.8
# How many answers' weight the one-coin matrix has when a person's own confusions are
# estimated: below this many answers their matrix is mostly the pooled one.
SHRINKAGE = 20.0


@dataclass(frozen=True)
class ReviewerEstimate:
    """One reviewer's estimated accuracy, its interval, and the evidence behind it."""

    reviewer: Hashable
    answers: int
    accuracy: float
    interval: tuple[float, float]
    evidence: float  # answers' worth of others' evidence about the true label (0..answers)
    confusions: tuple[tuple[str, str, float], ...]  # (true, answered, share of true) top ones
    right: float = 0.0  # answers' worth of evidence that they were right (no prior in it)
    confidence: float = 0.95

    def least_error(self) -> float:
        """The least error rate the evidence shows: a one-sided Jeffreys bound on the share
        of answers shown wrong, on the evidence alone. ``interval`` is centred on
        ``accuracy``, which the prior pulls towards 80%: with little evidence its top end
        is lowered by the prior, not by answers shown wrong, and a bound used to loosen
        thresholds must not be."""
        if self.evidence <= 0:
            return 0.0
        return least_share(shown_error(self), self.evidence, self.confidence)


def pooled_least_error(shares: Sequence[tuple[ReviewerEstimate, float]]) -> float:
    """The least mean error of labels given by these reviewers in these shares.

    Each person's ``least_error`` is the bottom of their own interval; averaging those
    bottoms over a team answers a stricter question than asked (that every one of six
    people errs at least that little at once), so a threshold corrected by it is held
    higher than the evidence requires. The question is the team's mean error over the
    labels, Σ wᵢ eᵢ with eᵢ each person's error shown on the evidence alone (``shown_error``),
    and its bound is a one-sided Jeffreys bound on that share at the evidence's effective size,
    (Σ wᵢ)² / Σ (wᵢ² / nᵢ) for nᵢ answers' worth of evidence (Kish, as
    ``classifier.thresholds.effective_counts``): one person gives exactly their
    ``least_error``, six people equally checked about as much as all their evidence pooled.
    People without evidence are left out (their labels carry 0), and a team none of whose
    answers was ever shown wrong gets 0, as one person does.
    """
    kept = [(e, float(w)) for e, w in shares if e.evidence > 0 and w > 0]
    if not kept:
        return 0.0
    total = sum(w for _, w in kept)
    mean = sum(w * shown_error(e) for e, w in kept) / total
    if mean <= 0:
        return 0.0
    effective = total**2 / sum(w * w / e.evidence for e, w in kept)
    return least_share(mean, effective, kept[0][0].confidence)


def least_share(share: float, n: float, confidence: float) -> float:
    """The one-sided lower Jeffreys bound of a share measured on ``n`` (fractional) trials,
    0 when none was seen.

    One-sided because only the lower end is used: the least error loosens the precision
    bound (``classifier.thresholds.corrected_precision``), itself one-sided at the same
    confidence. The equal-tailed interval's bottom, used before, is a bound at half the
    risk asked for: on the simulated team wrong 5% of the time it held thresholds higher
    than the evidence required (5,009 answers against the issue's 5,000).
    """
    if share <= 0 or n <= 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, share * n + 0.5, (1.0 - share) * n + 0.5))


def shown_error(estimate: ReviewerEstimate) -> float:
    """The share of a person's answers others' evidence shows wrong, with no prior in it."""
    return min(1.0, max(0.0, 1.0 - estimate.right / estimate.evidence))


@dataclass(frozen=True)
class Reliability:
    """The fitted model: per reviewer estimates and each item's posterior over labels."""

    reviewers: dict[Hashable, ReviewerEstimate]
    posterior: np.ndarray  # items × classes
    classes: tuple[str, ...]
    iterations: int

    def settled(self, item: int) -> tuple[str, float]:
        """The most probable true label of an item and its probability."""
        row = self.posterior[item]
        best = int(row.argmax())
        return self.classes[best], float(row[best])


def estimate_reliability(
    answers: Sequence[tuple[int, Hashable, str]],
    classes: Sequence[str],
    *,
    n_items: int | None = None,
    item_priors: Mapping[int, np.ndarray] | None = None,
    confidence: float = 0.95,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    top_confusions: int = 3,
) -> Reliability:
    """Fit Dawid–Skene by EM on (item, reviewer, label) answers.

    ``item_priors`` give, for the items where the model was confident, its calibrated
    probabilities over ``classes``: a single answer on such an item says something about
    the person who gave it. Other items start from the estimated label frequencies.
    A person's accuracy counts each answer as far as others settled its ticket (a ticket
    only this person answered, with no model prior, tells nothing about them), and its
    interval is a Jeffreys interval on that many answers' worth of evidence.
    """
    class_list = tuple(str(c) for c in classes)
    index = {c: k for k, c in enumerate(class_list)}
    n_classes = len(class_list)
    items = np.asarray([a[0] for a in answers], dtype=np.intp)
    given = np.asarray([index[a[2]] for a in answers], dtype=np.intp)
    names = list(dict.fromkeys(a[1] for a in answers))
    who_index = {name: j for j, name in enumerate(names)}
    who = np.asarray([who_index[a[1]] for a in answers], dtype=np.intp)
    n = int(n_items if n_items is not None else (items.max() + 1 if len(items) else 0))
    n_people = len(names)
    log_prior_items = np.zeros((n, n_classes))
    has_prior = np.zeros(n, dtype=bool)
    for item, probabilities in (item_priors or {}).items():
        p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, None)
        log_prior_items[item] = np.log(p / p.sum())
        has_prior[item] = True

    # Start from a vote (plus the model's prior where there is one).
    votes = np.zeros((n, n_classes))
    np.add.at(votes, (items, given), 1.0)
    posterior = votes + np.where(has_prior[:, None], np.exp(log_prior_items), 0.0) + 1e-3
    posterior /= posterior.sum(axis=1, keepdims=True)

    confusion = np.zeros((n_people, n_classes, n_classes))
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        confusion, frequencies = _m_step(posterior, items, who, given, n_people, n_classes)
        log_like = _log_likelihoods(confusion, items, who, given, n, n_classes)
        log_post = log_like + np.where(has_prior[:, None], log_prior_items, np.log(frequencies))
        updated = _normalise(log_post)
        change = float(np.abs(updated - posterior).max()) if n else 0.0
        posterior = updated
        if change < tolerance:
            break

    reviewers = {}
    for j, name in enumerate(names):
        mine = who == j
        # Others' evidence: each answered item's posterior without this person's answer.
        own = np.log(np.clip(confusion[j][:, given[mine]].T, 1e-300, None))
        without = _normalise(np.log(np.clip(posterior[items[mine]], 1e-300, None)) - own)
        # With one label there is nothing to get wrong: every answer is settled.
        decided = (
            (without.max(axis=1) - 1.0 / n_classes) / (1.0 - 1.0 / n_classes)
            if n_classes > 1
            else np.ones(int(mine.sum()))
        )
        # A ticket only this person answered, with no model prior, has no others' evidence:
        # the label frequencies it starts from say nothing about that one ticket.
        alone = (
            (np.bincount(items, minlength=n)[items[mine]] == 1)
            & ~has_prior[items[mine]]
            & (n_classes > 1)
        )
        weight = np.where(alone, 0.0, np.clip(decided, 0.0, 1.0))
        evidence = float(weight.sum())
        # Each answer counts as far as others settled its ticket: one nobody else (and no
        # confident model) saw cannot show whether it was right.
        shown_right = float((weight * posterior[items[mine], given[mine]]).sum())
        accuracy = (shown_right + PRIOR_RIGHT) / (evidence + PRIOR_RIGHT + PRIOR_WRONG)
        reviewers[name] = ReviewerEstimate(
            reviewer=name,
            answers=int(mine.sum()),
            accuracy=accuracy,
            interval=jeffreys_interval(accuracy, evidence, confidence),
            evidence=evidence,
            confusions=_top_confusions(
                posterior[items[mine]], given[mine], class_list, top_confusions
            ),
            right=shown_right,
            confidence=confidence,
        )
    return Reliability(reviewers, posterior, class_list, iterations)


def jeffreys_interval(share: float, n: float, confidence: float) -> tuple[float, float]:
    """Equal-tailed Jeffreys interval for a proportion measured on ``n`` (fractional) trials."""
    if n <= 0:
        return (0.0, 1.0)
    tail = (1.0 - confidence) / 2.0
    right, wrong = share * n + 0.5, (1.0 - share) * n + 0.5
    low = 0.0 if share <= 0 else float(beta.ppf(tail, right, wrong))
    high = 1.0 if share >= 1 else float(beta.ppf(1.0 - tail, right, wrong))
    return (low, high)


def _m_step(
    posterior: np.ndarray,
    items: np.ndarray,
    who: np.ndarray,
    given: np.ndarray,
    n_people: int,
    n_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrices (people × true × answered) and label frequencies from posteriors."""
    counts = np.zeros((n_people, n_classes, n_classes))
    # counts[j, k, l] += P(true k) for each answer l by j: one posterior row per answer.
    np.add.at(counts.transpose(0, 2, 1), (who, given), posterior[items])
    answered = counts.sum(axis=2)  # people × true: soft answers per true label
    right = np.einsum("jkk->j", counts)
    total = answered.sum(axis=1)
    accuracy = (right + PRIOR_RIGHT) / (total + PRIOR_RIGHT + PRIOR_WRONG)
    # Pooled confusions: which wrong label people give for each true label.
    pooled = counts.sum(axis=0)
    np.fill_diagonal(pooled, 0.0)
    pooled += 1.0 / max(n_classes - 1, 1)
    np.fill_diagonal(pooled, 0.0)
    pooled /= np.clip(pooled.sum(axis=1, keepdims=True), 1e-300, None)
    one_coin = (1.0 - accuracy)[:, None, None] * pooled[None, :, :]
    diagonal = np.arange(n_classes)
    one_coin[:, diagonal, diagonal] = accuracy[:, None]
    confusion = counts + SHRINKAGE * one_coin / max(n_classes, 1)
    confusion /= np.clip(confusion.sum(axis=2, keepdims=True), 1e-300, None)
    frequencies = posterior.sum(axis=0) + 1.0
    return confusion, frequencies / frequencies.sum()


def _log_likelihoods(
    confusion: np.ndarray,
    items: np.ndarray,
    who: np.ndarray,
    given: np.ndarray,
    n: int,
    n_classes: int,
) -> np.ndarray:
    """log P(answers on item | true label k), items × classes."""
    log_like = np.zeros((n, n_classes))
    np.add.at(log_like, items, np.log(np.clip(confusion[who, :, given], 1e-300, None)))
    return log_like


def _normalise(log_values: np.ndarray) -> np.ndarray:
    shifted = np.exp(log_values - log_values.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _top_confusions(
    posterior: np.ndarray, given: np.ndarray, classes: tuple[str, ...], top: int
) -> tuple[tuple[str, str, float], ...]:
    """The (true, answered) pairs this person got wrong most, with their share of the true."""
    n_classes = len(classes)
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts.T, given, posterior)
    per_true = counts.sum(axis=1)
    np.fill_diagonal(counts, 0.0)
    pairs = []
    for flat in np.argsort(-counts, axis=None)[:top]:
        true, answered = divmod(int(flat), n_classes)
        if counts[true, answered] < 1.0:  # less than one answer's worth: noise
            break
        pairs.append(
            (classes[true], classes[answered], float(counts[true, answered] / per_true[true]))
        )
    return tuple(pairs)

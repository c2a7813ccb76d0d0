"""Which labels are probably wrong: confident learning on out-of-fold probabilities.

Northcutt, Jiang & Chuang (2021), "Confident learning: estimating uncertainty in dataset
labels". A per-class threshold (the mean probability the model gives a class on the
examples labelled with it) decides when the model is confident an example belongs to a
class; counting, per given label, which class it is confidently in gives the confident
joint, calibrated to the label counts it estimates the joint of given and true labels, and
so the share of wrong labels. The examples to suspect are, for each off-diagonal cell, that
many of its members with the largest margin for the other class ("prune by noise rate").

It needs no reviewer names and no second answers, so it also screens imported history;
``imported_noise_bound`` turns the model's disagreement with that history into a bound on
how much of it is wrong, which confident learning's own rate is not.
Written on numpy (cleanlab implements it but is AGPL-3.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta


@dataclass(frozen=True)
class Screening:
    """What confident learning found in one labelled set."""

    classes: tuple[str, ...]
    thresholds: np.ndarray  # per class: mean self-confidence of the examples labelled with it
    confident_joint: np.ndarray  # given × confidently-true counts
    joint: np.ndarray  # the calibrated estimate of P(given, true), summing to 1
    suspects: np.ndarray  # example indices, most likely wrong first
    suggested: tuple[str, ...]  # the label each suspect probably has, in the same order
    margin: np.ndarray  # per suspect: p(suggested) - p(given)

    @property
    def noise_rate(self) -> float:
        """Estimated share of wrong labels: the joint's mass off its diagonal."""
        return float(1.0 - np.trace(self.joint))

    def flips(self) -> list[tuple[str, str, float]]:
        """(given, true, share of all examples) for the off-diagonal cells, largest first."""
        cells = []
        for given, true in zip(*np.nonzero(self.joint), strict=True):
            if given != true:
                cells.append(
                    (self.classes[given], self.classes[true], float(self.joint[given, true]))
                )
        return sorted(cells, key=lambda cell: -cell[2])


def screen_labels(
    labels: Sequence[str] | np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    *,
    max_share: float = 0.2,
) -> Screening:
    """Find the examples whose given label confident learning judges wrong.

    ``probabilities`` are out-of-fold (each row from a model that never saw that example),
    columns in ``classes`` order. At most ``max_share`` of the examples are suspected,
    most likely first: a model that is wrong about a whole region must not remove it.
    """
    class_list = tuple(str(c) for c in classes)
    index = {c: k for k, c in enumerate(class_list)}
    given = np.asarray([index[str(label)] for label in labels], dtype=np.intp)
    proba = np.asarray(probabilities, dtype=np.float64)
    n, n_classes = proba.shape
    counts = np.bincount(given, minlength=n_classes)
    self_confidence = proba[np.arange(n), given]
    sums = np.bincount(given, weights=self_confidence, minlength=n_classes)
    # A class nobody was given cannot be confidently predicted: its threshold is out of reach.
    thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)

    above = proba >= thresholds[None, :] - 1e-12
    masked = np.where(above, proba, -1.0)
    confident_in = masked.argmax(axis=1)
    confident = above.any(axis=1)
    confident_joint = np.zeros((n_classes, n_classes))
    np.add.at(confident_joint, (given[confident], confident_in[confident]), 1.0)

    # Calibrate each row to its label's count, then normalise to a joint distribution.
    row_sums = confident_joint.sum(axis=1, keepdims=True)
    calibrated = np.where(
        row_sums > 0, confident_joint / np.maximum(row_sums, 1.0) * counts[:, None], 0.0
    )
    total = calibrated.sum()
    joint = calibrated / total if total > 0 else np.eye(n_classes) / max(n_classes, 1)

    # Prune by noise rate: for each (given i, true j) cell, the n·Q[i, j] examples labelled
    # i with the largest margin p_j - p_i, among those confidently in j.
    flagged: dict[int, tuple[int, float]] = {}
    for i, j in zip(*np.nonzero(joint), strict=True):
        if i == j:
            continue
        wanted = int(round(n * joint[i, j]))
        members = np.flatnonzero((given == i) & confident & (confident_in == j))
        if wanted <= 0 or members.size == 0:
            continue
        margins = proba[members, j] - proba[members, i]
        for member in members[np.argsort(-margins, kind="stable")][:wanted]:
            margin = float(proba[member, j] - proba[member, i])
            if margin > 0 and (member not in flagged or flagged[member][1] < margin):
                flagged[int(member)] = (int(j), margin)
    ranked = sorted(flagged.items(), key=lambda item: -item[1][1])
    ranked = ranked[: int(max_share * n)]
    return Screening(
        classes=class_list,
        thresholds=thresholds,
        confident_joint=confident_joint,
        joint=joint,
        suspects=np.asarray([member for member, _ in ranked], dtype=np.intp),
        suggested=tuple(class_list[j] for _, (j, _) in ranked),
        margin=np.asarray([margin for _, (_, margin) in ranked], dtype=np.float64),
    )


def residual_error(noise_rate: float, n_examples: int, n_removed: int) -> float:
    """The share of wrong labels left after removing ``n_removed`` suspects, at least.

    Assumes every removed suspect was wrong: the smallest residual consistent with the
    estimate, so a precision bound corrected by it is never corrected too far.
    """
    kept = n_examples - n_removed
    if kept <= 0:
        return 0.0
    return max(0.0, (noise_rate * n_examples - n_removed) / kept)


@dataclass(frozen=True)
class ImportedNoise:
    """The least share of imported labels the evidence shows to be wrong, and its inputs."""

    bound: float  # 0 when the evidence shows nothing
    imported: int  # imported examples in the confident half
    imported_disagreement: float  # share of them whose label the model's prediction contradicts
    trusted: int  # answered (named) examples in the confident half
    trusted_error: float  # the most the model can be wrong on them (upper bound)


def imported_noise_bound(
    agrees: np.ndarray,
    confidences: np.ndarray,
    imported: np.ndarray,
    trusted_error: np.ndarray,
    *,
    delta: float,
) -> ImportedNoise:
    """A lower confidence bound on the share of wrong imported labels, from how much more
    often the model contradicts them than it contradicts labels people answered.

    Imported history carries no names and no second answers, so ``label_error_bounds``
    cannot show it wrong, and confident learning's noise rate is not a bound (it counts
    the model's own mistakes as wrong labels). This one is. On the more confident half of
    the held-out examples (by the model's confidence, chosen before any label is looked
    at), an imported label disagrees with the prediction only if the label is wrong or the
    model is (union bound), so its noise rate e satisfies e >= d_I - err_I with d_I the
    disagreement measured on imported labels and err_I the model's true error there.
    err_I is bounded by what the answered labels show: at most their disagreement d_T
    plus their own error (``trusted_error``, per example, from their answerers'
    estimated accuracy; 0 for a label two people gave), assuming imported tickets are no
    harder for the model than answered ones at the same confidence, which holds the more
    the answered ones are those people were asked because the model was unsure.
    The bound is Clopper-Pearson lower on d_I minus Clopper-Pearson upper on d_T, each at
    ``delta / 2``, so it holds with probability 1 - delta; a threshold corrected by it
    holds its own guarantee with probability 1 - 2·delta (union bound). Applied to every
    imported label, it assumes hurried labels are wrong no less often on tickets the model
    finds hard than on those it finds easy. Too few examples on either side give 0.
    """
    agrees = np.asarray(agrees, dtype=bool)
    confidences = np.asarray(confidences, dtype=np.float64)
    imported = np.asarray(imported, dtype=bool)
    errors = np.asarray(trusted_error, dtype=np.float64)
    confident = confidences >= np.median(confidences) if len(confidences) else imported
    mine, theirs = confident & imported, confident & ~imported
    n_mine, n_theirs = int(mine.sum()), int(theirs.sum())
    wrong_mine = int((~agrees[mine]).sum())
    if not n_mine or not n_theirs:
        return ImportedNoise(0.0, n_mine, wrong_mine / max(n_mine, 1), n_theirs, 1.0)
    wrong_theirs = int((~agrees[theirs]).sum())
    low = float(beta.ppf(delta / 2, wrong_mine, n_mine - wrong_mine + 1)) if wrong_mine else 0.0
    high = (
        float(beta.ppf(1 - delta / 2, wrong_theirs + 1, n_theirs - wrong_theirs))
        if wrong_theirs < n_theirs
        else 1.0
    )
    model_error = min(1.0, high + float(errors[theirs].mean()))
    bound = min(max(0.0, low - model_error), 0.49)  # corrected_precision needs < 0.5
    return ImportedNoise(bound, n_mine, wrong_mine / n_mine, n_theirs, model_error)

"""Which labels are probably wrong: confident learning on out-of-fold probabilities.

Northcutt, Jiang & Chuang (2021), "Confident learning: estimating uncertainty in dataset
labels". A per-class threshold (the mean probability the model gives a class on the
examples labelled with it) decides when the model is confident an example belongs to a
class; counting, per given label, which class it is confidently in gives the confident
joint, calibrated to the label counts it estimates the joint of given and true labels, and
so the share of wrong labels. The examples to suspect are, for each off-diagonal cell, that
many of its members with the largest margin for the other class ("prune by noise rate").

It needs no reviewer names and no second answers, so it also screens imported history.
Written on numpy (cleanlab implements it but is AGPL-3.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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

"""New topics: clusters of novel tickets, a proposed label name, and who else belongs.

One novel ticket may be a stray; several alike within hours are a new kind of request (a new
product, an outage, a new fraud). Clustering is average-link on the unit embeddings that
novelty is measured in (``classifier.embed``), cut at cosine distance CLUSTER_DISTANCE: on
Banking77, with ten withheld intents among known false alarms, that cut found one cluster of
five or more for each withheld intent, 86 % pure (``benchmarks/novelty.py`` notes).
While a topic is open, an arriving ticket as close to its centroid as its own members are is
novel too: the per-ticket detector misses some of a topic's tickets, its centroid does not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from classifier.text import SpacyNormalizer

CLUSTER_DISTANCE = 0.5  # cosine distance at which average-link clustering is cut
# A topic's radius is this quantile of its members' similarity to the centroid, so most of
# its own tickets would match it; never below MIN_RADIUS, whatever a loose cluster says.
RADIUS_QUANTILE = 0.1
MIN_RADIUS = 0.55
NAME_WORDS = 2


@dataclass(frozen=True)
class Cluster:
    """Indices of the tickets that belong together, their unit centroid and match radius."""

    members: tuple[int, ...]
    centroid: np.ndarray
    radius: float


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def find_clusters(embeddings: np.ndarray, *, min_size: int) -> list[Cluster]:
    """Groups of at least ``min_size`` similar tickets, largest first."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if len(embeddings) < max(min_size, 2):
        return []
    tree = linkage(embeddings, method="average", metric="cosine")
    assignment = fcluster(tree, t=CLUSTER_DISTANCE, criterion="distance")
    found = []
    for cluster_id, size in Counter(assignment.tolist()).most_common():
        if size < min_size:
            break
        members = np.flatnonzero(assignment == cluster_id)
        found.append(describe_cluster(embeddings, members))
    return found


def describe_cluster(embeddings: np.ndarray, members: Sequence[int] | np.ndarray) -> Cluster:
    """The centroid and match radius of a given set of tickets."""
    points = np.asarray(embeddings, dtype=np.float64)[np.asarray(members)]
    centroid = _unit(points.mean(axis=0))
    similarity = points @ centroid
    radius = max(MIN_RADIUS, float(np.quantile(similarity, RADIUS_QUANTILE)))
    return Cluster(tuple(int(i) for i in members), centroid, radius)


def matching_topic(embeddings: np.ndarray, centroids: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Per ticket, the index of the open topic it falls inside (the closest), or -1."""
    if len(centroids) == 0 or len(embeddings) == 0:
        return np.full(len(embeddings), -1)
    similarity = np.asarray(embeddings, dtype=np.float64) @ np.asarray(centroids).T
    inside = similarity >= np.asarray(radii)[None, :]
    best = np.where(inside, similarity, -np.inf).argmax(axis=1)
    return np.where(inside.any(axis=1), best, -1)


def keywords(texts: Sequence[str], *, pipeline: str | None = None, count: int = 5) -> list[str]:
    """The lemmas most of the tickets share (stop words, numbers and masks left out)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    documents = SpacyNormalizer(pipeline=pipeline).transform(texts)
    frequency: Counter[str] = Counter()
    for document in documents:
        frequency.update(
            {
                word
                for word in document.split()
                if word.isalpha() and len(word) > 2 and word not in STOP_WORDS
            }
        )
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[:count]]


def propose_label(words: Sequence[str], taken: Sequence[str], proposed: Sequence[str] = ()) -> str:
    """A label name: the one people proposed most, else the top keywords joined; never taken."""
    names = [name for name, _ in Counter(proposed).most_common()]
    base = names[0] if names else "_".join(words[:NAME_WORDS]) or "new_topic"
    name, number = base, 2
    while name in set(taken):
        name, number = f"{base}_{number}", number + 1
    return name

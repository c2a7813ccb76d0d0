"""Benchmark instrument: other novelty detectors on the runs of ``benchmarks/novelty.py``.

``capture`` trains each run of the novelty benchmark (seeds 0, 1, 2 with 27 intents withheld,
and all 77 intents as seed -1) with the real ``classifier.train`` and keeps what any detector
could use: the held-out decision scores and per-label embedding similarities of known
tickets, those of each leave-labels-out round (known and pseudo-novel tickets), and those of
the test tickets. It records them by wrapping ``classifier.novelty``'s own functions in this
process, so what is captured is exactly what the shipped detector sees.

``compare`` then scores variants of the combination and of the cutoff on those captures in
seconds, and prints, per variant, the best (floor, false-alarm rate) whose all-77 coverage
cost stays within 3 points, with unknown-to-people, known automated and precision per seed.
The shipped detectors are among the variants ("5 features, all tickets" is the detector
before commit 06e86ab, "11 features, confident tickets" the one after), and their figures
equal ``benchmarks/novelty.py``'s.

    python -m benchmarks.novelty_variants capture [--dir DIR] [--encoder ENCODER]
    python -m benchmarks.novelty_variants compare [--dir DIR] [--tfidf] [--dense VECTORS.npy]
        [--knn VECTORS.npy] [--only-knn] [--cost-limit 0.03]
    python -m benchmarks.novelty_variants points [--dir DIR] [--gates 0.6,0.09 0.5,0.1]
    python -m benchmarks.novelty_variants tradeoff [--dir DIR] [--knn VECTORS.npy]
        [--dense VECTORS.npy] [--baseline 0.9315]

``--encoder`` trains with a sentence encoder (``TRIAGE_SENTENCE_ENCODER``) in the dense block
and the novelty bank; ``--dense`` adds variants whose bank similarities come from another
encoder's vectors (``benchmarks/sentence_vectors.py``) while the classifier keeps the
captured one; ``--knn`` adds variants with the mean similarity to the k nearest training
tickets (of any label, and of the predicted one) in those vectors' space, and
``--only-knn`` keeps, of the others, only the kept detector.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import classifier.novelty as novelty
from benchmarks.novelty import (
    DEFAULT_DATA,
    RESULTS,
    WITHHELD,
    read_off_topic,
    read_split,
    thresholds_at,
)
from classifier.calibration import softmax

RUNS = (0, 1, 2, -1)  # -1: all 77 intents
FLOORS = (0.0, 0.5, 0.6, 0.7)
ALPHAS = tuple(round(a, 2) for a in np.arange(0.02, 0.26, 0.01))
BETAS = tuple(round(b, 3) for b in np.arange(0.005, 0.1, 0.005))
COST_LIMIT = 0.03

Part = dict[str, Any]
Scorer = Callable[[Part, float], np.ndarray]


def capture(directory: Path, data: Path, encoder: str | None = None) -> None:
    """Train every run, recording the detector's inputs; one pickle per run. ``encoder``:
    a sentence encoder for the dense block and the novelty bank (default WordLlama)."""
    from threadpoolctl import threadpool_limits

    from classifier.embeddings import reusing_embeddings
    from classifier.training import train

    record: list[dict[str, Any]] = []
    tag = ["?"]
    features, known, leave_out = (
        novelty.novelty_features,
        novelty._held_out_known_features,
        novelty._leave_labels_out,
    )

    def recorded_features(scores: Any, temperature: float, per_class: Any) -> np.ndarray:
        record.append({"tag": tag[0], "scores": np.asarray(scores), "per_class": per_class})
        return features(scores, temperature, per_class)

    def recorded_known(scores: Any, folds: Any, temperature: float, emb: Any, y: Any) -> Any:
        tag[0] = "cv"
        record.append({"tag": "cv_meta", "folds": folds.copy(), "y_index": y.copy()})
        return known(scores, folds, temperature, emb, y)

    def recorded_round(*args: Any) -> Any:
        tag[0] = "round"
        record.append({"tag": "round_meta", "fold": args[4], "left_out": np.asarray(args[5])})
        return leave_out(*args)

    novelty.novelty_features = recorded_features  # type: ignore[assignment]
    novelty._held_out_known_features = recorded_known  # type: ignore[assignment]
    novelty._leave_labels_out = recorded_round  # type: ignore[assignment]
    directory.mkdir(parents=True, exist_ok=True)
    train_texts, train_labels = read_split(data / "train.csv")
    test_texts, test_labels = read_split(data / "test.csv")
    with threadpool_limits(limits=1), reusing_embeddings():
        for seed in RUNS:
            labels = sorted(set(train_labels))
            withheld = set() if seed < 0 else set(random.Random(seed).sample(labels, WITHHELD))
            kept = [
                (t, y) for t, y in zip(train_texts, train_labels, strict=True) if y not in withheld
            ]
            record.clear()
            trained = train(
                [t for t, _ in kept], [y for _, y in kept], target_precision=0.95, encoder=encoder
            )
            test = zip(test_texts, test_labels, strict=True)
            sets = {"known": [], "withheld": []} | {
                "off_topic": [(t, "-") for t in read_off_topic()]
            }
            for text, label in test:
                sets["withheld" if label in withheld else "known"].append((text, label))
            test_parts = {}
            for name, rows in sets.items():
                if rows:
                    tag[0] = "test:" + name
                    trained.model.assess([t for t, _ in rows])
                    gold = np.array([y for _, y in rows], dtype=object)
                    test_parts[name] = {"texts": [t for t, _ in rows], "gold": gold}
            out = {
                "seed": seed,
                "classes": np.asarray(trained.model.classes_),
                "temperature": trained.model.temperature_,
                "thresholds": {0.95: thresholds_at(trained, 0.95, 0.0).default},
                "train_texts": [t for t, _ in kept],
                "test": test_parts,
                "rec": list(record),
            }
            with (directory / f"run{seed}.pkl").open("wb") as handle:
                pickle.dump(out, handle)
            print(f"captured run {seed}", file=sys.stderr, flush=True)


def load(directory: Path, seed: int) -> dict[str, Any]:
    """One captured run as held-out known ("cv"), rounds and test parts."""
    with (directory / f"run{seed}.pkl").open("rb") as handle:
        raw = pickle.load(handle)
    record = raw["rec"]
    meta = next(r for r in record if r["tag"] == "cv_meta")
    folds, y = meta["folds"], meta["y_index"]
    n_classes = len(raw["classes"])
    scores, pc = np.full((len(y), n_classes), np.nan), np.full((len(y), n_classes), np.nan)
    calls = [r for r in record if r["tag"] == "cv"]
    for fold, call in zip(sorted(set(folds[folds >= 0].tolist())), calls, strict=True):
        rows = np.flatnonzero(folds == fold)
        scores[rows], pc[rows] = call["scores"], call["per_class"]
    held = folds >= 0
    rounds = []
    sequence = [r for r in record if r["tag"] in ("round_meta", "round")]
    for start in range(0, len(sequence), 3):
        meta_round, known, novel = sequence[start : start + 3]
        parts = {
            key: {"scores": c["scores"], "pc": c["per_class"]}
            for key, c in (("known", known), ("novel", novel))
        }
        rounds.append({**parts, "fold": meta_round["fold"], "left_out": meta_round["left_out"]})
    classes = np.asarray(raw["classes"])
    test = {}
    for name, part in raw["test"].items():
        call = next(r for r in record if r["tag"] == "test:" + name)
        predicted = classes[call["scores"].argmax(axis=1)]
        test[name] = {
            "scores": call["scores"],
            "pc": call["per_class"],
            "correct": predicted == part["gold"],
        }
    return {
        "seed": seed,
        "T": raw["temperature"],
        "threshold": raw["thresholds"][0.95],
        "cv": {"scores": scores[held], "pc": pc[held]},
        "rounds": rounds,
        "test": test,
        "raw": raw,
        "folds": folds,
        "y": y,
    }


def confidence(part: Part, temperature: float) -> np.ndarray:
    return softmax(part["scores"], temperature).max(axis=1)


def five(part: Part, temperature: float) -> np.ndarray:
    """The features of the detector before 06e86ab."""
    return novelty.novelty_features(part["scores"], temperature, part["pc"])[:, :5]


def eleven(part: Part, temperature: float) -> np.ndarray:
    return novelty.novelty_features(part["scores"], temperature, part["pc"])


def with_tfidf(part: Part, temperature: float) -> np.ndarray:
    """Eleven features plus char TF-IDF: nearest ticket, nearest of the label, its lead."""
    scores, tpc = part["scores"], part["tpc"]
    rows, predicted = np.arange(len(scores)), scores.argmax(axis=1)
    other = tpc.copy()
    other[rows, predicted] = -np.inf
    same = tpc[rows, predicted]
    return np.column_stack([eleven(part, temperature), tpc.max(1), same, same - other.max(1)])


class Fitted:
    """A combination learned on the rounds, known (0) against pseudo-novel (1)."""

    def __init__(self, features: Callable[[Part, float], np.ndarray], kind: str, confident: bool):
        self.features, self.kind, self.confident = features, kind, confident

    def fit(self, run: dict[str, Any]) -> Fitted:
        x, target = [], []
        for round_ in run["rounds"]:
            for key, label in (("known", 0), ("novel", 1)):
                f = self.features(round_[key], run["T"])
                if self.confident:
                    f = f[confidence(round_[key], run["T"]) >= run["threshold"]]
                x.append(f)
                target.append(np.full(len(f), label))
        features, labels = np.vstack(x), np.concatenate(target)
        self.mean, self.scale = features.mean(0), features.std(0)
        self.scale[self.scale == 0] = 1.0
        standard = (features - self.mean) / self.scale
        if self.kind == "logistic":
            self.model: Any = LogisticRegression(max_iter=2_000).fit(standard, labels)
        else:
            self.model = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0
            ).fit(standard, labels)
        return self

    def __call__(self, part: Part, temperature: float) -> np.ndarray:
        standard = (self.features(part, temperature) - self.mean) / self.scale
        return np.asarray(self.model.predict_proba(standard)[:, 1])


def joint(inner: Scorer, k: float) -> Scorer:
    """A confidence bar rising with novelty: novelty minus k times the logit of confidence."""

    def score(part: Part, temperature: float) -> np.ndarray:
        c = np.clip(confidence(part, temperature), 1e-6, 1 - 1e-6)
        logit = np.log(inner(part, temperature) + 1e-12) - np.log(1 - inner(part, temperature))
        return logit - k * np.log(c / (1 - c))

    return score


def gate(run: dict[str, Any], scores: dict[str, np.ndarray], floor: float, **cut: float) -> Part:
    """Test figures of one gate; cutoff at ``alpha`` of all held-out known tickets, or at
    ``beta`` of those the gate would automate (the cost-aware cutoff)."""
    bar = max(run["threshold"], floor)
    cv_confidence = confidence(run["cv"], run["T"])
    if "alpha" in cut:
        cutoff = novelty.conformal_cutoff(scores["cv"], cut["alpha"])
    else:
        cutoff = novelty.conformal_cutoff(scores["cv"][cv_confidence >= bar], cut["beta"])
    out = {}
    for name, part in run["test"].items():
        automated = (confidence(part, run["T"]) >= bar) & (scores[name] <= cutoff)
        right = part["correct"][automated]
        out[name] = (float(automated.mean()), float(right.mean()) if len(right) else None)
    return out


def variant(
    runs: dict[int, dict[str, Any]],
    name: str,
    make: Callable[[Any], Scorer],
    cost_limit: float = COST_LIMIT,
) -> Part:
    """The best gate within the cost limit for one detector, with its AUROC per seed."""
    scores: dict[int, dict[str, np.ndarray]] = {}
    for seed, run in runs.items():
        scorer = make(run)
        parts = {"cv": run["cv"], **run["test"]}
        scores[seed] = {key: scorer(part, run["T"]) for key, part in parts.items()}
    today = gate(runs[-1], scores[-1], 0.0, alpha=0.0)["known"][0]
    aurocs = []
    for seed in (0, 1, 2):
        known, withheld = scores[seed]["known"], scores[seed]["withheld"]
        truth = np.r_[np.zeros(len(known)), np.ones(len(withheld))]
        aurocs.append(round(float(roc_auc_score(truth, np.r_[known, withheld])), 3))
    cuts = (
        [{"beta": b} for b in BETAS]
        if name.startswith("cost-aware")
        else [{"alpha": a} for a in ALPHAS]
    )
    best: Part | None = None
    for floor in FLOORS:
        for cut in cuts:
            figures = {seed: gate(runs[seed], scores[seed], floor, **cut) for seed in RUNS}
            cost = today - figures[-1]["known"][0]
            unknown = [1 - figures[s]["withheld"][0] for s in (0, 1, 2)]
            if cost <= cost_limit and (
                best is None or np.mean(unknown) > np.mean(best["unknown_to_people"])
            ):
                best = {
                    "variant": name,
                    "auroc": aurocs,
                    "floor": floor,
                    **cut,
                    "all_77_cost": round(cost, 4),
                    "unknown_to_people": [round(u, 4) for u in unknown],
                    "known_automated": [round(figures[s]["known"][0], 4) for s in (0, 1, 2)],
                    "known_precision": [round(figures[s]["known"][1] or 0, 4) for s in (0, 1, 2)],
                }
    assert best is not None
    return best


def add_tfidf(run: dict[str, Any]) -> None:
    """Per-label best char TF-IDF cosine for every part, from each part's own training texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifier.masking import mask_sensitive

    def prepare(texts: list[str]) -> np.ndarray:
        return np.array([mask_sensitive(t).lower() for t in texts], dtype=object)

    texts = prepare(run["raw"]["train_texts"])

    def per_label(queries: np.ndarray, rows: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
        space = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
        b = space.fit_transform(texts[rows])
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=n)
        starts = np.concatenate([[0], np.cumsum(counts)])
        present = np.flatnonzero(counts > 0)
        out = np.full((len(queries), n), -1.0)
        sims = (space.transform(queries) @ b[order].T).toarray()
        out[:, present] = np.maximum.reduceat(sims, starts[present], axis=1)
        return out

    fill_parts(
        run, "tpc", texts, lambda name: prepare(run["raw"]["test"][name]["texts"]), per_label
    )


PerLabel = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def fill_parts(
    run: dict[str, Any],
    key: str,
    train: np.ndarray,
    test_queries: Callable[[str], np.ndarray],
    per_label: PerLabel,
) -> None:
    """Store ``per_label(queries, bank rows, bank labels, labels)`` under ``key`` for every
    part, with the same banks as the shipped detector: fold banks for the cross-validated
    predictions, round banks without the withheld labels, the whole training set for the
    test split. ``train`` holds the training texts (or their vectors), row for row."""
    folds, y, n = run["folds"], run["y"], len(run["raw"]["classes"])
    cv = np.full((len(y), n), np.nan)
    for fold in sorted(set(folds[folds >= 0].tolist())):
        held = folds == fold
        cv[held] = per_label(train[held], ~held, y[~held], n)
    run["cv"][key] = cv[folds >= 0]
    for round_ in run["rounds"]:
        novel = np.isin(y, round_["left_out"])
        rows = (folds != round_["fold"]) & ~novel
        kept = np.setdiff1d(np.arange(n), round_["left_out"])
        labels = np.searchsorted(kept, y[rows])
        for part, mask in (("known", ~novel), ("novel", novel)):
            queries = train[(folds == round_["fold"]) & mask]
            round_[part][key] = per_label(queries, rows, labels, len(kept))
    everything = np.ones(len(y), dtype=bool)
    for name, part_of_test in run["test"].items():
        part_of_test[key] = per_label(test_queries(name), everything, y, n)


SIMILARITY_COLUMNS = [novelty.FEATURES.index(name) for name in novelty.FEATURES[3:5]] + [
    novelty.FEATURES.index(name) for name in novelty.FEATURES[8:]
]  # the five features that come from the bank's similarities


def eleven_dense(part: Part, temperature: float) -> np.ndarray:
    """The eleven features with the other encoder's similarities in place of the captured."""
    return novelty.novelty_features(part["scores"], temperature, part["dpc"])


def with_dense(part: Part, temperature: float) -> np.ndarray:
    """The eleven captured features plus the five similarity features in the other encoder."""
    extra = novelty.novelty_features(part["scores"], temperature, part["dpc"])
    return np.column_stack([eleven(part, temperature), extra[:, SIMILARITY_COLUMNS]])


def add_dense(run: dict[str, Any], vectors: Callable[[list[str]], np.ndarray]) -> None:
    """Per-label best cosine in another encoder's unit vectors (``vectors(texts)``) for
    every part (``fill_parts``' banks)."""
    train = vectors(run["raw"]["train_texts"])

    def per_label(queries: np.ndarray, rows: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
        bank = novelty.Bank.build(train[rows], labels, k)
        return bank.similarities(queries)[0]

    fill_parts(
        run, "dpc", train, lambda name: vectors(run["raw"]["test"][name]["texts"]), per_label
    )


KNN = 10  # nearest training tickets kept per query by ``add_knn``


def add_knn(run: dict[str, Any], vectors: Callable[[list[str]], np.ndarray]) -> None:
    """Per query, the KNN best cosines to any training ticket and to tickets of the
    predicted label (descending), in ``vectors``' space, with the same banks as the shipped
    detector (fold banks, round banks, the whole training set for the test split)."""
    train = vectors(run["raw"]["train_texts"])
    folds, y = run["folds"], run["y"]

    def nearest(
        queries: np.ndarray, predicted: np.ndarray, rows: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        sims = queries @ train[rows].T
        top = -np.sort(-np.partition(sims, sims.shape[1] - KNN, axis=1)[:, -KNN:], axis=1)
        same = np.where(labels[None, :] == predicted[:, None], sims, -1.0)
        top_same = -np.sort(-np.partition(same, same.shape[1] - KNN, axis=1)[:, -KNN:], axis=1)
        return top, top_same

    held = folds >= 0
    cv_top, cv_same = np.full((len(y), KNN), np.nan), np.full((len(y), KNN), np.nan)
    scores_cv = np.full(len(y), -1)
    scores_cv[held] = run["cv"]["scores"].argmax(axis=1)
    for fold in sorted(set(folds[held].tolist())):
        mask = folds == fold
        cv_top[mask], cv_same[mask] = nearest(train[mask], scores_cv[mask], ~mask, y[~mask])
    run["cv"]["knn"], run["cv"]["knn_same"] = cv_top[held], cv_same[held]
    for round_ in run["rounds"]:
        n = len(run["raw"]["classes"])
        novel = np.isin(y, round_["left_out"])
        rows = (folds != round_["fold"]) & ~novel
        kept = np.setdiff1d(np.arange(n), round_["left_out"])
        labels = np.searchsorted(kept, y[rows])
        for key, mask in (("known", ~novel), ("novel", novel)):
            queries = train[(folds == round_["fold"]) & mask]
            predicted = round_[key]["scores"].argmax(axis=1)
            round_[key]["knn"], round_[key]["knn_same"] = nearest(queries, predicted, rows, labels)
    everything = np.ones(len(y), dtype=bool)
    for name, part in run["test"].items():
        queries = vectors(run["raw"]["test"][name]["texts"])
        predicted = part["scores"].argmax(axis=1)
        part["knn"], part["knn_same"] = nearest(queries, predicted, everything, y)


def knn_features(ks: tuple[int, ...], same_ks: tuple[int, ...]) -> Scorer:
    """The eleven features plus the mean similarity to the k nearest training tickets (each
    k in ``ks``) and to the k nearest of the predicted label (each k in ``same_ks``)."""

    def features(part: Part, temperature: float) -> np.ndarray:
        extra = [part["knn"][:, :k].mean(axis=1) for k in ks]
        extra += [part["knn_same"][:, :k].mean(axis=1) for k in same_ks]
        return np.column_stack([eleven(part, temperature), *extra])

    return features


def cached_vectors(path: Path) -> Callable[[list[str]], np.ndarray]:
    """Unit vectors looked up by masked text in ``path`` (.npy) and ``path`` with the suffix
    .json (the masked texts, in row order), as ``benchmarks/sentence_vectors.py`` writes."""
    from classifier.masking import mask_sensitive

    texts = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    matrix = np.load(path)
    row = {text: i for i, text in enumerate(texts)}
    return lambda items: matrix[[row[mask_sensitive(t)] for t in items]]


def compare(
    directory: Path,
    tfidf: bool,
    out: Path,
    dense: Path | None = None,
    cost_limit: float = COST_LIMIT,
    knn: Path | None = None,
    only_knn: bool = False,
) -> None:
    runs = {seed: load(directory, seed) for seed in RUNS}
    variants: dict[str, Callable[[Any], Scorer]] = {
        "5 features, all tickets (before)": lambda r: Fitted(five, "logistic", False).fit(r),
        "cost-aware cutoff, 5 features": lambda r: Fitted(five, "logistic", False).fit(r),
        "5 features, confident tickets": lambda r: Fitted(five, "logistic", True).fit(r),
        "11 features, all tickets": lambda r: Fitted(eleven, "logistic", False).fit(r),
        "11 features, confident tickets (kept)": lambda r: Fitted(eleven, "logistic", True).fit(r),
        "gradient boosting, 5 features": lambda r: Fitted(five, "boosting", False).fit(r),
        "gradient boosting, 11 features": lambda r: Fitted(eleven, "boosting", False).fit(r),
    }
    for k in (-1.0, 0.5, 1.0, 2.0):
        variants[f"joint rule k={k}"] = lambda r, k=k: joint(
            Fitted(eleven, "logistic", True).fit(r), k
        )
    if tfidf:
        for run in runs.values():
            add_tfidf(run)
        variants["kept + char TF-IDF"] = lambda r: Fitted(with_tfidf, "logistic", True).fit(r)
    if dense is not None:
        lookup = cached_vectors(dense)
        for run in runs.values():
            add_dense(run, lookup)
        variants["kept, similarities in the other encoder"] = lambda r: Fitted(
            eleven_dense, "logistic", True
        ).fit(r)
        variants["kept + similarities in the other encoder"] = lambda r: Fitted(
            with_dense, "logistic", True
        ).fit(r)
    if only_knn:
        variants = {k: v for k, v in variants.items() if k.endswith("(kept)")}
    if knn is not None:
        lookup = cached_vectors(knn)
        for run in runs.values():
            add_knn(run, lookup)
        for ks, same_ks in (((5,), ()), ((10,), ()), ((5, 10), (5,)), ((10,), (10,)), ((), (5,))):
            label = f"kept + k-NN mean of {ks or '-'}, same label {same_ks or '-'}"
            features = knn_features(ks, same_ks)
            variants[label] = lambda r, f=features: Fitted(f, "logistic", True).fit(r)
    results = []
    for name, make in variants.items():
        best = variant(runs, name, make, cost_limit)
        results.append(best)
        print(json.dumps(best), flush=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


TRADEOFF_FLOORS = (0.0, 0.5, 0.6, 0.7, 0.8)
TRADEOFF_ALPHAS = tuple(round(a, 2) for a in np.arange(0.05, 0.31, 0.01))


def with_dense_knn(part: Part, temperature: float) -> np.ndarray:
    """Both encoders' similarity features plus the mean of the ten nearest tickets."""
    return np.column_stack([with_dense(part, temperature), part["knn"].mean(axis=1)])


def tradeoff(
    directory: Path, out: Path, knn: Path | None, dense: Path | None, baseline: float | None
) -> None:
    """Every (floor, false-alarm rate) gate of the kept detector and of its k-NN and
    two-encoder variants, with, per variant, the best gate (highest lowest-seed share of
    unknown-intent tickets to people) within 3 points of the capture's own SGR-only gate and
    of ``baseline`` (another all-77 coverage, e.g. the shipped WordLlama gate's), and the gate
    of highest all-77 coverage that meets the issue's targets on every seed."""
    runs = {seed: load(directory, seed) for seed in RUNS}
    makers: dict[str, Callable[[Any], Scorer]] = {
        "kept": lambda r: Fitted(eleven, "logistic", True).fit(r)
    }
    if knn is not None:
        lookup = cached_vectors(knn)
        for run in runs.values():
            add_knn(run, lookup)
        makers["kept + k-NN mean of 10"] = lambda r: Fitted(
            knn_features((KNN,), ()), "logistic", True
        ).fit(r)
    if dense is not None:
        other = cached_vectors(dense)
        for run in runs.values():
            add_dense(run, other)
        makers["kept + other encoder's similarities"] = lambda r: Fitted(
            with_dense, "logistic", True
        ).fit(r)
        if knn is not None:
            makers["kept + other encoder's similarities + k-NN mean of 10"] = lambda r: Fitted(
                with_dense_knn, "logistic", True
            ).fit(r)
    results: dict[str, Any] = {}
    for name, make in makers.items():
        scores = {}
        for seed, run in runs.items():
            scorer = make(run)
            parts = {"cv": run["cv"], **run["test"]}
            scores[seed] = {k: scorer(p, run["T"]) for k, p in parts.items()}
        today = gate(runs[-1], scores[-1], 0.0, alpha=0.0)["known"][0]
        rows = []
        for floor in TRADEOFF_FLOORS:
            for alpha in TRADEOFF_ALPHAS:
                f = {seed: gate(runs[seed], scores[seed], floor, alpha=alpha) for seed in RUNS}
                rows.append(
                    {
                        "floor": floor,
                        "false_alarms": alpha,
                        "all_77": [round(f[-1]["known"][0], 4), round(f[-1]["known"][1] or 0, 4)],
                        "unknown_to_people": [round(1 - f[s]["withheld"][0], 4) for s in (0, 1, 2)],
                        "known_automated": [round(f[s]["known"][0], 4) for s in (0, 1, 2)],
                        "known_precision": [round(f[s]["known"][1] or 0, 4) for s in (0, 1, 2)],
                    }
                )

        def best(limit: float, rows: list[Part] = rows) -> Part | None:
            within = [r for r in rows if r["all_77"][0] >= limit - 1e-9]
            key = lambda r: (min(r["unknown_to_people"]), sum(r["unknown_to_people"]))  # noqa: E731
            return max(within, key=key) if within else None

        meets = [
            r
            for r in rows
            if min(r["unknown_to_people"]) >= 0.8
            and min(r["known_automated"]) >= 0.85
            and min(r["known_precision"]) >= 0.95
        ]
        results[name] = {
            "sgr_only_all_77": round(today, 4),
            "best_within_3_of_own": best(today - COST_LIMIT),
            "best_within_3_of_baseline": None if baseline is None else best(baseline - COST_LIMIT),
            "meets_targets_highest_coverage": max(meets, key=lambda r: r["all_77"][0])
            if meets
            else None,
            "gates": rows,
        }
        summary = {k: v for k, v in results[name].items() if k != "gates"}
        print(json.dumps({name: summary}), flush=True)
    out.write_text(json.dumps({"baseline": baseline, **results}, indent=1) + "\n", encoding="utf-8")


def points(directory: Path, out: Path, gates: list[tuple[float, float]]) -> None:
    """The kept detector's figures at given (floor, false-alarm rate) gates, with the
    all-77 coverage itself (not only its cost), to compare captures of different encoders."""
    runs = {seed: load(directory, seed) for seed in RUNS}
    scores = {}
    for seed, run in runs.items():
        scorer = Fitted(eleven, "logistic", True).fit(run)
        scores[seed] = {k: scorer(p, run["T"]) for k, p in {"cv": run["cv"], **run["test"]}.items()}
    today = gate(runs[-1], scores[-1], 0.0, alpha=0.0)["known"]
    results: list[dict[str, Any]] = [{"gate": "today", "all_77": today}]
    for floor, alpha in gates:
        figures = {seed: gate(runs[seed], scores[seed], floor, alpha=alpha) for seed in RUNS}
        results.append(
            {
                "floor": floor,
                "false_alarms": alpha,
                "all_77": figures[-1]["known"],
                "all_77_cost": round(today[0] - figures[-1]["known"][0], 4),
                **{
                    f"seed {seed}": {
                        "unknown_to_people": round(1 - figures[seed]["withheld"][0], 4),
                        "known": figures[seed]["known"],
                        "off_topic_to_people": round(1 - figures[seed]["off_topic"][0], 4),
                    }
                    for seed in (0, 1, 2)
                },
            }
        )
        print(json.dumps(results[-1]), flush=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("capture", "compare", "points", "tradeoff"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/novelty_variants"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--tfidf", action="store_true", help="also the TF-IDF variant (slower)")
    parser.add_argument("--out", type=Path, default=RESULTS / "novelty_variants.json")
    parser.add_argument("--encoder", help="capture: TRIAGE_SENTENCE_ENCODER's value")
    parser.add_argument(
        "--gates", nargs="+", default=["0.6,0.09"], help="points: FLOOR,FALSE_ALARMS pairs"
    )
    parser.add_argument(
        "--cost-limit",
        type=float,
        default=COST_LIMIT,
        help="all-77 coverage a gate may cost against the capture's own SGR-only gate",
    )
    parser.add_argument(
        "--dense", type=Path, help="unit vectors (.npy + .json) of another encoder to compare"
    )
    parser.add_argument(
        "--knn", type=Path, help="unit vectors (.npy + .json): add k-NN similarity variants"
    )
    parser.add_argument("--only-knn", action="store_true", help="skip the other variants")
    parser.add_argument(
        "--baseline",
        type=float,
        help="tradeoff: another all-77 coverage to stay within 3 points of",
    )
    args = parser.parse_args(argv)
    if args.action == "capture":
        capture(args.dir, args.data, args.encoder)
    elif args.action == "points":
        pairs = [(float(g.split(",")[0]), float(g.split(",")[1])) for g in args.gates]
        points(args.dir, args.out, pairs)
    elif args.action == "tradeoff":
        tradeoff(args.dir, args.out, args.knn, args.dense, args.baseline)
    else:
        compare(
            args.dir, args.tfidf, args.out, args.dense, args.cost_limit, args.knn, args.only_knn
        )


if __name__ == "__main__":
    main()

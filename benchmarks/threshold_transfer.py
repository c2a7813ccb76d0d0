"""Do thresholds tuned on the fold models hold for the model that is deployed?

Retraining tunes the global threshold on out-of-fold predictions: five fold models, each
trained on four fifths of the examples. The deployed model is trained on all of them, and
after the promotion gate refitted on the held-out newest answers too
(``bot.services.models.retrain``), so it is stronger and more confident than the models
whose confidences the threshold was chosen on. This measures what that costs, on random
(i.i.d.) samples of Banking77's train split scored on its test split, at target 0.95:

- ``final`` / ``refit``: the model trained on the sample, and the same recipe refitted on a
  quarter more examples (as the gate's refit does);
- ``same``: the threshold as tuned (the service's rule);
- ``matched``: the threshold moved to the deployed model's confidence that covers the same
  share of 1,500 unlabelled tickets as the fold models covered at the tuned one (never
  lower than tuned);
- ``fixed_matched``: the fixed-sequence threshold (``classifier.thresholds``), matched the
  same way: a less conservative search paired with the stricter transfer.

The human-in-the-loop stream's labelled pool is not an i.i.d. sample (people label what
the model doubted), so this isolates the transfer from the pool's selection.

    python -m benchmarks.threshold_transfer ../shared/data/banking77 [--sizes 1000 1500 3000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.classifier_bench import read_split
from classifier import evaluate, train
from classifier.calibration import softmax
from classifier.crossval import out_of_fold_scores
from classifier.model import TicketClassifier, check_training_data, resolve_solver
from classifier.thresholds import NEVER, fixed_sequence_threshold
from classifier.training import TrainedModel, refit

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 0.95
UNLABELLED = 1_500


def fold_confidences(
    trained: TrainedModel, texts: list[str], labels: list[str], unlabelled: list[str]
) -> np.ndarray:
    """The confidences the fold models of ``trained`` give the unlabelled tickets (the same
    folds, recipe and temperature as ``classifier.train``, which does not return them)."""
    texts, labels, _, y_index = check_training_data(texts, labels)
    solver = resolve_solver("auto", len(texts))
    scored = out_of_fold_scores(
        lambda: TicketClassifier(temperature=1.0, solver=solver),
        texts,
        labels,
        y_index,
        folds=5,
        random_state=0,
        extra_texts=unlabelled,
    )
    return softmax(scored.extra_scores, trained.model.temperature_).max(axis=1)


def matched(tuned: float, fold: np.ndarray, deployed: np.ndarray) -> float:
    """The deployed model's confidence covering as many unlabelled tickets as ``tuned`` did."""
    covered = int((fold >= tuned).sum())
    if covered == 0:
        return tuned
    return max(tuned, float(np.sort(deployed)[::-1][covered - 1]))


def measure(data_dir: Path, size: int, seed: int) -> dict[str, Any]:
    """One sample: tuned thresholds, and each deployed model's test coverage and precision."""
    texts, labels = read_split(data_dir / "train.csv")
    test_texts, test_labels = read_split(data_dir / "test.csv")
    order = random.Random(seed).sample(range(len(texts)), len(texts))
    chosen = order[:size]
    extra = order[size : size + size // 4]
    unlabelled = [texts[i] for i in order[size + size // 4 : size + size // 4 + UNLABELLED]]
    sample_texts, sample_labels = [texts[i] for i in chosen], [labels[i] for i in chosen]
    trained = train(
        sample_texts, sample_labels, target_precision=TARGET, unlabelled_texts=unlabelled
    )
    held_out = trained.cv_predictions
    tuned = {
        "same": trained.thresholds.default,
        "fixed": fixed_sequence_threshold(
            held_out.confidences,
            held_out.predicted == held_out.gold,
            target_precision=TARGET,
            delta=0.05,
        ),
    }
    fold = fold_confidences(trained, sample_texts, sample_labels, unlabelled)
    row: dict[str, Any] = {
        "size": size,
        "seed": seed,
        "tuned": tuned["same"],
        "fold_share_of_unlabelled": float((fold >= tuned["same"]).mean()),
    }
    models = {
        "final": trained.model,
        "refit": refit(
            trained.model,
            sample_texts + [texts[i] for i in extra],
            sample_labels + [labels[i] for i in extra],
        ),
    }
    for name, model in models.items():
        deployed = model.predict_proba(unlabelled).max(axis=1)
        rules = {
            "same": tuned["same"],
            "matched": matched(tuned["same"], fold, deployed),
            "fixed_matched": matched(tuned["fixed"], fold, deployed),
        }
        for rule, threshold in rules.items():
            scored = evaluate(
                model, test_texts, test_labels, trained.thresholds.with_default(threshold)
            )
            row[f"{name}_{rule}"] = {
                "threshold": None if threshold == NEVER else threshold,
                "coverage": scored.coverage,
                "precision": scored.auto_precision,
            }
    return row


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per size and rule: mean coverage, least and mean precision, how many fell below target."""
    out: dict[str, Any] = {}
    for size in sorted({r["size"] for r in rows}):
        at = [r for r in rows if r["size"] == size and r["tuned"] != NEVER]
        for key in (k for k in at[0] if k.startswith(("final_", "refit_"))) if at else ():
            coverage = [r[key]["coverage"] for r in at]
            precision = [r[key]["precision"] for r in at if r[key]["precision"] is not None]
            out[f"{size} {key}"] = {
                "samples": len(at),
                "mean_coverage": float(np.mean(coverage)),
                "least_precision": min(precision) if precision else None,
                "mean_precision": float(np.mean(precision)) if precision else None,
                "below_target": sum(p < TARGET for p in precision),
            }
    return out


def main() -> None:
    """Measure every size at every seed; write the rows and a summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 1500, 3000])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS / "threshold_transfer.json")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    for size in args.sizes:
        for seed in range(args.seeds):
            rows.append(measure(args.data_dir, size, seed))
            print(
                f"size {size:,} seed {seed}: {time.perf_counter() - started:.0f}s",
                file=sys.stderr,
                flush=True,
            )
    command = "python -m benchmarks.threshold_transfer " + " ".join(sys.argv[1:])
    result = {"command": command, "target": TARGET, "summary": summary(rows), "rows": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()

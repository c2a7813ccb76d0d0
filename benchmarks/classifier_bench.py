"""Benchmark the classifier on Banking77: quality, guaranteed-precision coverage, speed."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core for throughput numbers; must precede numpy's import

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]

from classifier import evaluate, metrics_from_predictions, train  # noqa: E402
from classifier.model import TicketClassifier  # noqa: E402
from classifier.thresholds import (  # noqa: E402
    NEVER,
    Thresholds,
    choose_thresholds,
    fixed_sequence_threshold,
)
from classifier.training import TrainedModel  # noqa: E402

TARGETS = (0.95, 0.97, 0.99)


def read_split(path: Path) -> tuple[list[str], list[str]]:
    """Read a Banking77 CSV (text, category)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def print_progress(stage: str, step: int, total: int) -> None:
    """Show training progress on stderr."""
    print(f"  {stage}: {step}/{total}", file=sys.stderr, flush=True)


def batch_throughput(model: TicketClassifier, texts: list[str], repeats: int = 3) -> float:
    """Return texts per second for predict_proba on the whole list, best of ``repeats``."""
    best = min(_timed(model, texts) for _ in range(repeats))
    return len(texts) / best


def _timed(model: TicketClassifier, texts: list[str]) -> float:
    start = time.perf_counter()
    model.predict_proba(texts)
    return time.perf_counter() - start


def single_latency_ms(model: TicketClassifier, texts: list[str], calls: int) -> dict[str, float]:
    """Return p50/p99 milliseconds of one-text predict_proba calls."""
    model.predict_proba(texts[:1])
    samples = np.array([_timed(model, [texts[i % len(texts)]]) for i in range(calls)]) * 1e3
    return {"p50": float(np.percentile(samples, 50)), "p99": float(np.percentile(samples, 99))}


def precision_coverage_curve(
    confidences: np.ndarray, correct: np.ndarray, grid: np.ndarray
) -> dict[str, list[float | None]]:
    """Realised precision and coverage on test for each global threshold in ``grid``."""
    coverage, precision = [], []
    for threshold in grid:
        covered = confidences >= threshold
        coverage.append(float(covered.mean()))
        precision.append(float(correct[covered].mean()) if covered.any() else None)
    return {"threshold": grid.tolist(), "coverage": coverage, "precision": precision}


def plot(curve: dict[str, list[float | None]], rows: list[dict[str, Any]], out: Path) -> None:
    """Plot test precision and coverage against the threshold, marking the chosen ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    grid = curve["threshold"]
    precision = [np.nan if p is None else p for p in curve["precision"]]
    ax.plot(grid, precision, label="realised precision (test)")
    ax.plot(grid, curve["coverage"], label="coverage (test)")
    for row, colour in zip(rows, ("tab:green", "tab:purple", "tab:red"), strict=True):
        threshold = row["threshold"]
        if threshold is not None:
            ax.axvline(
                threshold,
                color=colour,
                linestyle="--",
                label=f"threshold for target {row['target_precision']}",
            )
        ax.axhline(row["target_precision"], color=colour, linestyle=":", linewidth=0.8)
    ax.set_xlabel("confidence threshold")
    ax.set_ylim(0.5, 1.005)
    ax.set_title("Banking77 test: precision and coverage vs threshold (chosen on train CV)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def trained_thresholds(
    trained: TrainedModel, target: float, confidence_level: float, per_label: bool
) -> Thresholds:
    """Choose thresholds for ``target`` from the training run's out-of-fold predictions only."""
    held_out = trained.cv_predictions
    return choose_thresholds(
        held_out.confidences,
        held_out.predicted,
        held_out.gold,
        target_precision=target,
        confidence_level=confidence_level,
        per_label=per_label,
        label_counts=trained.label_counts,
    )


def fixed_sequence_comparison(
    trained: TrainedModel, confidence_level: float, confidences: np.ndarray, correct: np.ndarray
) -> list[dict[str, Any]]:
    """Test coverage and precision had the thresholds come from fixed-sequence testing."""
    held_out = trained.cv_predictions
    held_out_correct = held_out.predicted == held_out.gold
    rows = []
    for target in TARGETS:
        threshold = fixed_sequence_threshold(
            held_out.confidences,
            held_out_correct,
            target_precision=target,
            delta=1.0 - confidence_level,
        )
        covered = confidences >= threshold
        rows.append(
            {
                "target_precision": target,
                "threshold": None if threshold == NEVER else threshold,
                "coverage": float(covered.mean()),
                "realised_precision": float(correct[covered].mean()) if covered.any() else None,
            }
        )
    return rows


def main() -> None:
    """Train on train.csv, evaluate on test.csv, write JSON and PNG."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "data_dir", nargs="?", type=Path, default=REPO_ROOT / ".." / "shared" / "data" / "banking77"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks/results/classifier.json"
    )
    parser.add_argument(
        "--plot", type=Path, default=REPO_ROOT / "benchmarks/results/classifier.png"
    )
    parser.add_argument("--confidence-level", type=float, default=0.95)
    parser.add_argument("--latency-calls", type=int, default=1000)
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    train_texts, train_labels = read_split(args.data_dir / "train.csv")
    test_texts, test_labels = read_split(args.data_dir / "test.csv")
    print(f"train {len(train_texts)} / test {len(test_texts)} texts", file=sys.stderr)

    with threadpool_limits(limits=1):
        start = time.perf_counter()
        trained = train(
            train_texts,
            train_labels,
            target_precision=TARGETS[0],
            confidence_level=args.confidence_level,
            progress=print_progress,
        )
        train_seconds = time.perf_counter() - start
        model = trained.model
        proba = model.predict_proba(test_texts)
        throughput = batch_throughput(model, test_texts)
        latency = single_latency_ms(model, test_texts, args.latency_calls)

    predicted = model.classes_[proba.argmax(axis=1)]
    confidences = proba.max(axis=1)
    gold = np.asarray(test_labels, dtype=object)
    correct = predicted == gold
    overall = evaluate(model, test_texts, test_labels, None)
    rows = []
    for target in TARGETS:
        row: dict[str, Any] = {"target_precision": target}
        for per_label in (False, True):
            thresholds = trained_thresholds(trained, target, args.confidence_level, per_label)
            metrics = metrics_from_predictions(predicted, confidences, test_labels, thresholds)
            key = "per_label" if per_label else "global"
            row[key] = {
                "thresholds": thresholds.to_dict()["default"],
                "n_overrides": len(thresholds.per_label),
                "coverage": metrics.coverage,
                "realised_precision": metrics.auto_precision,
            }
        row["threshold"] = row["global"]["thresholds"]
        rows.append(row)
    sweep = []
    for level in (0.8, 0.9, 0.95, 0.99):
        thresholds = trained_thresholds(trained, TARGETS[-1], level, per_label=False)
        metrics = metrics_from_predictions(predicted, confidences, test_labels, thresholds)
        sweep.append(
            {
                "confidence_level": level,
                "threshold": thresholds.to_dict()["default"],
                "coverage": metrics.coverage,
                "realised_precision": metrics.auto_precision,
            }
        )
    result = {
        "command": " ".join(["python -m benchmarks.classifier_bench", *sys.argv[1:]]),
        "n_train": len(train_texts),
        "n_test": len(test_texts),
        "model": repr(model),
        "temperature": model.temperature_,
        "confidence_level": args.confidence_level,
        "accuracy": overall.accuracy,
        "macro_f1": overall.macro_f1,
        "ece": overall.calibration_error,
        "cv_accuracy": trained.cv_metrics.accuracy,
        "targets": rows,
        "confidence_level_sweep_at_0.99": sweep,
        "fixed_sequence_thresholds": fixed_sequence_comparison(
            trained, args.confidence_level, confidences, correct
        ),
        "train_seconds": train_seconds,
        "batch_texts_per_second_one_core": throughput,
        "single_text_latency_ms": latency,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(
        precision_coverage_curve(confidences, correct, np.linspace(0.0, 1.0, 201)), rows, args.plot
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""How far the audit estimates fall from true precision, on Banking77's real confidences.

A model is trained on the first N tickets of the shuffled train split (the loop's model has
learned from about that many answers); the test tickets it would label automatically (its
own thresholds, target 0.95) are the pool. Each round draws a window of automated tickets
from the pool (with replacement), sends each to a blind audit with the service's audit rate,
and compares with the window's true precision:

- the plain audit share (what `/triage stats` showed alone), with its Wilson interval;
- the prediction-powered estimate (`classifier.intervals.prediction_powered_mean`: mean
  confidence over the window + the audits' rectifier), with its interval;
- the model's mean confidence alone (no audits: biased by whatever miscalibration there is);
- the same powered estimate with audits drawn by importance (`--weighted`): each
  automated ticket is audited with a chance proportional to sqrt(f(1 - f)) or 1 - f of its
  confidence f (never under `--floor` times the mean of that figure), scaled so the
  expected number of audits is the uniform design's, and each audit's rectifier weighted
  back by the inverse of its chance (`classifier.intervals.weighted_powered_mean`).

Auditors are exact here; the loop benchmark (`benchmarks.hitl_team`) adds their errors.

    python -m benchmarks.audit_estimate [DATA_DIR] [--train 4000] [--window 4000] ...
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.classifier_bench import read_split  # noqa: E402
from bot.settings import Settings  # noqa: E402
from classifier import train, wilson_interval  # noqa: E402
from classifier.intervals import prediction_powered_mean, weighted_powered_mean  # noqa: E402

# How each importance design scores a ticket's confidence f: sqrt(f(1 - f)) is the spread of
# a calibrated ticket's outcome, the chance-proportional-to-error that minimises the
# variance of an inverse-weighted mean; 1 - f is the chance it is wrong.
DESIGNS = {
    "sqrt_f_1_minus_f": lambda f: np.sqrt(f * (1.0 - f)),
    "one_minus_f": lambda f: 1.0 - f,
}

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "banking77"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line; defaults reproduce the reported run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--train", type=int, default=4000, help="training tickets")
    parser.add_argument("--window", type=int, default=4000, help="automated tickets a window")
    parser.add_argument("--audit-rate", type=float, default=Settings().audit_rate)
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--tolerance", type=float, default=0.015)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--floor", type=float, default=0.25, help="least audit chance, times the mean one"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "audit_estimate.json"
    )
    return parser.parse_args(argv)


def summary(
    errors: np.ndarray, covered: np.ndarray | None, widths: np.ndarray | None, tol: float
) -> dict[str, Any]:
    """Bias, RMSE, share within the tolerance, and the interval's coverage and width."""
    out: dict[str, Any] = {
        "bias": float(errors.mean()),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "within_tolerance": float(np.mean(np.abs(errors) <= tol)),
        "p90_abs_error": float(np.quantile(np.abs(errors), 0.9)),
    }
    if covered is not None and widths is not None:
        out["coverage"] = float(covered.mean())
        out["mean_width"] = float(widths.mean())
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Train, pool the automated test tickets, and draw the rounds."""
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    texts, labels = read_split(args.data_dir / "train.csv")
    order = rng.permutation(len(texts))[: args.train]
    started = time.perf_counter()
    trained = train(
        [texts[i] for i in order], [labels[i] for i in order], target_precision=args.target
    )
    seconds = time.perf_counter() - started
    test_texts, test_labels = read_split(args.data_dir / "test.csv")
    proba = trained.model.predict_proba(test_texts)
    best = proba.argmax(axis=1)
    predicted = trained.model.classes_[best]
    confidence = proba[np.arange(len(best)), best]
    bars = np.array([trained.thresholds.for_label(str(p)) for p in predicted])
    automated = confidence >= bars
    pool_f = confidence[automated]
    pool_y = (predicted == np.asarray(test_labels))[automated]
    # Each design's chance per pooled ticket: the window is drawn from the pool, so scaling
    # over the pool keeps the expected audits per window at the uniform design's.
    chances = {}
    for name, score in DESIGNS.items():
        h = score(pool_f)
        h = np.maximum(h, args.floor * h.mean())
        chances[name] = np.minimum(1.0, args.audit_rate * h / h.mean())
    weighted: dict[str, dict[str, list[float]]] = {
        name: {"e": [], "cov": [], "w": [], "n": []} for name in DESIGNS
    }
    share_e, share_cov, share_w = [], [], []
    ppi_e, ppi_cov, ppi_w, model_e, audits_n = [], [], [], [], []
    for _ in range(args.rounds):
        pick = rng.integers(0, len(pool_f), args.window)
        f, y = pool_f[pick], pool_y[pick]
        truth = float(y.mean())
        audited = rng.random(args.window) < args.audit_rate
        n = int(audited.sum())
        if n == 0:
            continue
        audits_n.append(n)
        k = int(y[audited].sum())
        low, high = wilson_interval(k, n)
        share_e.append(k / n - truth)
        share_cov.append(low <= truth <= high)
        share_w.append(high - low)
        powered = prediction_powered_mean(
            predicted_count=args.window,
            predicted_sum=float(f.sum()),
            predicted_squares=float((f**2).sum()),
            labelled=list(zip(f[audited].tolist(), y[audited].tolist(), strict=True)),
        )
        assert powered is not None
        ppi_e.append(powered.estimate - truth)
        ppi_cov.append(powered.low <= truth <= powered.high)
        ppi_w.append(powered.high - powered.low)
        model_e.append(powered.mean_prediction - truth)
        for name, chance in chances.items():
            p = chance[pick]
            drawn = rng.random(args.window) < p
            got = weighted_powered_mean(
                predicted_count=args.window,
                predicted_sum=float(f.sum()),
                predicted_squares=float((f**2).sum()),
                labelled=list(
                    zip(f[drawn].tolist(), y[drawn].tolist(), p[drawn].tolist(), strict=True)
                ),
            )
            if got is None:
                continue
            record = weighted[name]
            record["e"].append(got.estimate - truth)
            record["cov"].append(got.low <= truth <= got.high)
            record["w"].append(got.high - got.low)
            record["n"].append(int(drawn.sum()))
    tol = args.tolerance
    result = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "train_seconds": round(seconds, 1),
        "threshold_default": trained.thresholds.default,
        "pool": {
            "automated_test_tickets": int(automated.sum()),
            "of": len(test_texts),
            "true_precision": float(pool_y.mean()),
            "mean_confidence": float(pool_f.mean()),
            "mean_f_times_1_minus_f": float(np.mean(pool_f * (1 - pool_f))),
            "variance_of_correct": float(pool_y.mean() * (1 - pool_y.mean())),
        },
        "audits_per_window": {"mean": float(np.mean(audits_n)), "min": int(np.min(audits_n))},
        "audit_share": summary(np.array(share_e), np.array(share_cov), np.array(share_w), tol),
        "powered": summary(np.array(ppi_e), np.array(ppi_cov), np.array(ppi_w), tol),
        "mean_confidence_alone": summary(np.array(model_e), None, None, tol),
        "weighted_floor": args.floor,
        "weighted": {
            name: {
                **summary(np.array(r["e"]), np.array(r["cov"]), np.array(r["w"]), tol),
                "audits_per_window": float(np.mean(r["n"])),
                "max_weight_over_mean": float(chances[name].mean() / chances[name].min()),
            }
            for name, r in weighted.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

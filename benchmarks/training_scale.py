"""How training time and memory grow with the number of labelled tickets (up to 100,000).

Banking77 has 10,003 training texts, so larger sets are made by paraphrase-like noise:
each synthetic ticket is a real one with a few words dropped and a few swapped with
neighbours, keeping its label. That keeps the vocabulary and label structure realistic, but
the synthetic set is easier than 100,000 real tickets, so read the accuracy column only as a
sanity check; the point is time and memory. Each size runs `classifier.train` (5-fold
cross-validation plus the final fit, as the worker does) in a fresh child process, so peak
memory is that size's own.

    python -m benchmarks.training_scale [DATA_DIR] [--sizes 10000 30000 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "banking77"


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of a Banking77 CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def noisy(text: str, rng: random.Random) -> str:
    """A variant of `text`: about one word in eight dropped, one neighbour pair swapped."""
    words = [w for w in text.split() if rng.random() > 0.125] or text.split()
    if len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def synthetic(pairs: list[tuple[str, str]], size: int, seed: int) -> list[tuple[str, str]]:
    """The real rows first, then noisy copies until `size` rows."""
    rng = random.Random(seed)
    rows = list(pairs[:size])
    while len(rows) < size:
        text, label = rng.choice(pairs)
        rows.append((noisy(text, rng), label))
    return rows


def measure_one(data_dir: Path, size: int, seed: int) -> dict[str, float]:
    """Train on `size` rows in this process; report seconds, peak memory and test accuracy."""
    from classifier import dump_model, evaluate, load_model, sha256_hex, train

    rows = synthetic(read_pairs(data_dir / "train.csv"), size, seed)
    started = time.perf_counter()

    def progress(stage: str, step: int, total: int) -> None:
        print(
            f"  {size:>7,}: {stage} {step}/{total} ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    trained = train(
        [t for t, _ in rows], [label for _, label in rows], target_precision=0.95, progress=progress
    )
    seconds = time.perf_counter() - started
    test = read_pairs(data_dir / "test.csv")
    metrics = evaluate(
        trained.model, [t for t, _ in test], [label for _, label in test], trained.thresholds
    )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # What every web process pays for this model: the stored bytes, loading them, one text.
    artifact = dump_model(trained.model)
    loading = time.perf_counter()
    loaded = load_model(artifact, sha256=sha256_hex(artifact))
    load_seconds = time.perf_counter() - loading
    latencies = []
    for text, _ in test[:300]:
        one = time.perf_counter()
        loaded.predict_proba([text])
        latencies.append(time.perf_counter() - one)
    return {
        "size": size,
        "train_seconds": round(seconds, 1),
        "peak_rss_mib": round(peak_mib),
        "test_accuracy": round(metrics.accuracy, 4),
        "test_coverage": round(metrics.coverage, 4),
        "features": int(loaded.coef_.shape[0]),
        "artifact_mib": round(len(artifact) / 2**20, 1),
        "load_seconds": round(load_seconds, 2),
        "single_text_p50_ms": round(1000 * sorted(latencies)[len(latencies) // 2], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/training_scale.json")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child-process mode
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.data_dir, args.one, args.seed)))
        return 0
    results = []
    for size in args.sizes:
        print(f"training on {size:,} tickets…", file=sys.stderr, flush=True)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.training_scale",
                str(args.data_dir),
                "--one",
                str(size),
                "--seed",
                str(args.seed),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
            cwd=REPO,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(f"  {results[-1]}", file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seed": args.seed, "results": results}, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

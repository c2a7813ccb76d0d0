"""Benchmark: do tickets unlike anything the model learned reach people? (Banking77)

Protocol (issue 9): withhold 27 of the 77 intents (``random.Random(seed).sample(sorted(labels),
27)``), train on the other 50 with the real ``classifier.train``, then run the test split
through the gate. Known-intent tickets should be automated (and right); tickets of the 27
withheld intents have no correct label, so every one automated is a mistake and should go
to people. Seeds 0, 1 and 2 withhold different intents. A hand-written set of off-topic
questions (weather, recipes, small talk: ``benchmarks/data/off_topic.csv``) checks that
far-off tickets are easy. Finally the same gates on all 77 intents show what the new gate
costs when nothing is new.

Gates compared, each at targets 0.95 and 0.97:
- ``today``: the SGR threshold alone (the gate before this change);
- ``floor``: plus the per-ticket confidence floor alone;
- ``novelty``: plus the novelty detector alone;
- ``new``: floor and novelty together (the service's defaults).
A sweep over floors and false-alarm rates shows the whole trade-off.

Run from the repository root: ``python -m benchmarks.novelty`` (writes
``benchmarks/results/novelty.json`` and ``novelty.png``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from classifier.embeddings import reusing_embeddings
from classifier.novelty import conformal_cutoff
from classifier.thresholds import Thresholds, choose_thresholds
from classifier.training import FALSE_ALARM_RATE, TrainedModel, train

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "banking77"
OFF_TOPIC = REPO_ROOT / "benchmarks" / "data" / "off_topic.csv"
RESULTS = REPO_ROOT / "benchmarks" / "results"
WITHHELD = 27
TARGETS = (0.95, 0.97)
FLOORS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
FALSE_ALARMS = (0.0, 0.02, 0.05, 0.09, 0.1)


def read_split(path: Path) -> tuple[list[str], list[str]]:
    """Banking77 CSV: (texts, intents)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def read_off_topic() -> list[str]:
    """Questions no bank-support label fits."""
    with OFF_TOPIC.open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


class Scored:
    """A trained model's view of a set of tickets: what the gate needs, computed once."""

    def __init__(self, trained: TrainedModel, texts: Sequence[str], gold: Sequence[str]) -> None:
        assessed = trained.model.assess(texts)
        self.predicted = trained.model.classes_[assessed.proba.argmax(axis=1)]
        self.confidence = assessed.proba.max(axis=1)
        self.novelty = assessed.novelty
        self.correct = self.predicted == np.asarray(gold, dtype=object)

    def automated(self, thresholds: Thresholds, novelty_cutoff: float) -> np.ndarray:
        """Which tickets the gate labels automatically (``inf`` cutoff: no novelty check)."""
        bars = np.array([thresholds.for_label(label) for label in self.predicted])
        return (self.confidence >= bars) & (self.novelty <= novelty_cutoff)


def cutoff_for(trained: TrainedModel, false_alarm: float) -> float:
    """The novelty cutoff at another false-alarm rate, from the same held-out scores."""
    if false_alarm == 0.0:
        return float("inf")
    return conformal_cutoff(trained.cv_predictions.novelty, false_alarm)


def thresholds_at(trained: TrainedModel, target: float, floor: float) -> Thresholds:
    """SGR thresholds for another target from the held-out predictions, with a floor."""
    held = trained.cv_predictions
    return choose_thresholds(
        held.confidences,
        held.predicted,
        held.gold,
        target_precision=target,
        label_counts=trained.label_counts,
        floor=floor,
    )


def gate_figures(known: Scored, automated_known: np.ndarray) -> dict[str, float | None]:
    """Coverage and realised precision of known-intent tickets under one gate."""
    right = known.correct[automated_known]
    return {
        "known_automated": float(automated_known.mean()),
        "known_precision": float(right.mean()) if len(right) else None,
    }


def run_gate(
    trained: TrainedModel,
    sets: dict[str, Scored],
    *,
    target: float,
    floor: float,
    false_alarm: float,
) -> dict[str, Any]:
    """Every figure of one gate: known coverage/precision, withheld and off-topic to people."""
    thresholds = thresholds_at(trained, target, floor)
    cutoff = cutoff_for(trained, false_alarm)
    result: dict[str, Any] = {
        "target": target,
        "floor": floor,
        "false_alarm": false_alarm,
        "threshold": thresholds.default if np.isfinite(thresholds.default) else None,
        **gate_figures(sets["known"], sets["known"].automated(thresholds, cutoff)),
        "known_flagged_novel": float((sets["known"].novelty > cutoff).mean()),
    }
    for name in ("withheld", "off_topic"):
        if name in sets:
            result[f"{name}_to_people"] = float(1 - sets[name].automated(thresholds, cutoff).mean())
    return result


def gates(floor: float, false_alarms: float) -> dict[str, tuple[float, float]]:
    """(floor, false-alarm rate) of each named gate."""
    return {
        "today": (0.0, 0.0),
        "floor": (floor, 0.0),
        "novelty": (0.0, false_alarms),
        "new": (floor, false_alarms),
    }


def withheld_run(
    seed: int, data: Path, args: argparse.Namespace, off_topic: list[str], progress: bool
) -> dict[str, Any]:
    """Train on 50 intents, score known, withheld and off-topic tickets under every gate."""
    train_texts, train_labels = read_split(data / "train.csv")
    test_texts, test_labels = read_split(data / "test.csv")
    withheld = set(random.Random(seed).sample(sorted(set(train_labels)), WITHHELD))
    kept = [(t, y) for t, y in zip(train_texts, train_labels, strict=True) if y not in withheld]
    started = time.perf_counter()
    trained = train(
        [t for t, _ in kept], [y for _, y in kept], target_precision=0.95, encoder=args.encoder
    )
    seconds = time.perf_counter() - started
    known = [(t, y) for t, y in zip(test_texts, test_labels, strict=True) if y not in withheld]
    unknown = [(t, y) for t, y in zip(test_texts, test_labels, strict=True) if y in withheld]
    sets = {
        "known": Scored(trained, [t for t, _ in known], [y for _, y in known]),
        "withheld": Scored(trained, [t for t, _ in unknown], [y for _, y in unknown]),
        "off_topic": Scored(trained, off_topic, ["-"] * len(off_topic)),
    }
    named = {
        f"{name}@{target}": run_gate(trained, sets, target=target, floor=f, false_alarm=a)
        for target in TARGETS
        for name, (f, a) in gates(args.floor, args.false_alarms).items()
    }
    sweep = [
        run_gate(trained, sets, target=0.95, floor=f, false_alarm=a)
        for f in FLOORS
        for a in FALSE_ALARMS
    ]
    if progress:
        new = named["new@0.95"]
        print(
            f"seed {seed}: known automated {new['known_automated']:.1%} at "
            f"{new['known_precision']:.1%}, withheld to people {new['withheld_to_people']:.1%} "
            f"({seconds:.0f} s to train)",
            file=sys.stderr,
            flush=True,
        )
    return {
        "seed": seed,
        "withheld": sorted(withheld),
        "train_seconds": round(seconds, 1),
        "detector": trained.novelty,
        "gates": named,
        "sweep": sweep,
    }


def all_intents_run(data: Path, args: argparse.Namespace, off_topic: list[str]) -> dict[str, Any]:
    """What the new gate costs when every intent is known (nothing is new)."""
    train_texts, train_labels = read_split(data / "train.csv")
    test_texts, test_labels = read_split(data / "test.csv")
    trained = train(train_texts, train_labels, target_precision=0.95, encoder=args.encoder)
    sets = {
        "known": Scored(trained, test_texts, test_labels),
        "off_topic": Scored(trained, off_topic, ["-"] * len(off_topic)),
    }
    named = {
        f"{name}@{target}": run_gate(trained, sets, target=target, floor=f, false_alarm=a)
        for target in TARGETS
        for name, (f, a) in gates(args.floor, args.false_alarms).items()
    }
    cost = {
        str(target): named[f"today@{target}"]["known_automated"]
        - named[f"new@{target}"]["known_automated"]
        for target in TARGETS
    }
    sweep = [
        run_gate(trained, sets, target=0.95, floor=f, false_alarm=a)
        for f in FLOORS
        for a in FALSE_ALARMS
    ]
    return {"detector": trained.novelty, "gates": named, "coverage_cost": cost, "sweep": sweep}


def plot(result: dict[str, Any], out: Path) -> None:
    """Known tickets automated against withheld-intent tickets sent to people, per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6))
    markers = {0.0: "o", 0.02: "s", 0.05: "^", 0.09: "v", 0.1: "D"}
    colours = plt.get_cmap("tab10")
    for index, run in enumerate(result["withheld_runs"]):
        colour = colours(index)
        for alarm, marker in markers.items():
            points = [g for g in run["sweep"] if g["false_alarm"] == alarm]
            ax.plot(
                [g["known_automated"] for g in points],
                [g["withheld_to_people"] for g in points],
                marker=marker,
                color=colour,
                alpha=0.8,
                label=f"seed {run['seed']}, false alarms {alarm:.0%}",
            )
    ax.axvline(0.85, color="grey", linestyle=":")
    ax.axhline(0.80, color="grey", linestyle=":")
    ax.set_xlabel("known-intent tickets automated (target 0.95; floors 0 to 0.95 along each line)")
    ax.set_ylabel("withheld-intent tickets sent to people")
    ax.set_title("Banking77, 27 of 77 intents withheld: the gate's trade-off")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line; defaults reproduce BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--floor", type=float, required=True, help="the floor of the new gate")
    parser.add_argument("--out", type=Path, default=RESULTS / "novelty.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "novelty.png")
    parser.add_argument("--skip-all", action="store_true", help="skip the all-77 run")
    parser.add_argument(
        "--false-alarms", type=float, default=FALSE_ALARM_RATE, help="of the new gate"
    )
    parser.add_argument(
        "--encoder", help="sentence encoder (TRIAGE_SENTENCE_ENCODER's values; default WordLlama)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run every seed and the all-intents check; write JSON and the trade-off plot."""
    args = parse_args(argv)
    off_topic = read_off_topic()
    with threadpool_limits(limits=1), reusing_embeddings():  # each text embedded once
        runs = [withheld_run(s, args.data_dir, args, off_topic, True) for s in args.seeds]
        every = None if args.skip_all else all_intents_run(args.data_dir, args, off_topic)
    result = {
        "command": "python -m benchmarks.novelty " + " ".join(sys.argv[1:]),
        "floor": args.floor,
        "false_alarm_rate": args.false_alarms,
        "encoder": args.encoder,
        "withheld_runs": runs,
        "all_intents": every,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(result, args.plot)
    print(json.dumps({r["seed"]: r["gates"]["new@0.95"] for r in runs}, indent=2))
    if every is not None:
        print(json.dumps(every["coverage_cost"], indent=2))


if __name__ == "__main__":
    main()

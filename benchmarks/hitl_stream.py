"""Benchmark the whole human-in-the-loop loop on a Banking77 stream, starting from zero labels.

Tickets from train.csv arrive one by one in a fixed random order. Each goes through the real
intake (`validate_new_ticket` / `submit_ticket`) with the current active model; confident
ones are automated and scored against the gold label, the rest are answered by a simulated
reviewer through `record_answer`. After every ticket the real retraining job
(`run_retraining`) is polled, as the worker would poll it once a minute on a clock that
advances one minute per ticket: the job alone decides whether retraining is due, trains,
gates and promotes. The benchmark only chooses `retrain_min_answers` for each poll (the
fixed or growing schedule) and switches to a newly promoted model at once.

Why measure the loop and not just the classifier: the labels the model learns from are the
ones it was unsure about, the promotion gate judges on the most recent (hard) answers, and
thresholds are chosen from that biased data. Only the loop shows what automation and human
effort a deployment actually gets.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core per run, so two variants can run side by side

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
# This directory holds `classifier.py`, which would shadow the `classifier` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bot.services.answers import record_answer  # noqa: E402
from bot.services.intake import submit_ticket, validate_new_ticket  # noqa: E402
from bot.services.models import LoadedModel, load_active  # noqa: E402
from bot.services.policy import Policy  # noqa: E402
from bot.settings import Settings  # noqa: E402
from classifier import evaluate  # noqa: E402
from jobs.retraining import run_retraining  # noqa: E402
from storage.database import create_db_engine, session_factory, unit_of_work  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import ModelVersion, TicketStatus  # noqa: E402
from storage.queries.labels import ensure_labels  # noqa: E402

DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "banking77"
RESULTS = REPO_ROOT / "benchmarks" / "results"
REVIEWER = "Usim"
START = datetime(2024, 1, 1, tzinfo=UTC)
TICK = timedelta(minutes=1)
Z95 = 1.959964


# --------------------------------------------------------------------------- data


def read_split(path: Path) -> tuple[list[str], list[str]]:
    """Read a Banking77 CSV (text, category)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def shuffled_stream(texts: list[str], labels: list[str], seed: int) -> list[tuple[str, str]]:
    """The arrival order: fixed by the seed so variants see the very same tickets."""
    stream = list(zip(texts, labels, strict=True))
    random.Random(seed).shuffle(stream)
    return stream


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Schedule:
    """When the job should consider retraining due, as `retrain_min_answers` per poll.

    `warmup` are cumulative answer counts (e.g. 50, 100, 200, 400) at which to retrain
    while data is scarce; after the last one, every `every` answers. The job itself still
    counts the answers since its last run and decides.
    """

    every: int
    warmup: tuple[int, ...] = ()

    def min_answers(self, answers_at_last_run: int) -> int:
        """The setting for the next poll, given the answer count when the last run started."""
        for point in self.warmup:
            if point > answers_at_last_run:
                return point - answers_at_last_run
        return self.every

    def describe(self) -> str:
        """Human-readable form for tables."""
        if not self.warmup:
            return f"every {self.every}"
        return f"at {', '.join(map(str, self.warmup))}, then every {self.every}"


def parse_warmup(raw: str) -> tuple[int, ...]:
    """'50,100,200' -> (50, 100, 200); empty -> fixed schedule."""
    points = tuple(int(part) for part in raw.split(",") if part.strip())
    if list(points) != sorted(set(points)) or any(p <= 0 for p in points):
        raise argparse.ArgumentTypeError("warm-up points must be increasing positive integers")
    return points


# --------------------------------------------------------------------------- the loop


@dataclass
class StreamLog:
    """What happened to each ticket, in arrival order (for windows and the plot)."""

    automated: list[bool] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)  # automated and gold == applied label
    answered: list[bool] = field(default_factory=list)
    skipped_invalid: int = 0


@dataclass(frozen=True)
class RunRecord:
    """One retraining attempt made by the job during the stream."""

    ticket_index: int
    answers: int
    trigger: str
    status: str
    promoted: bool | None
    gate: str | None
    n_examples: int | None
    threshold_default: float | None
    never_auto: int | None
    seconds: float
    error: str | None


class Simulation:
    """The moving parts of one stream: database, clock, reviewer, model and schedule."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, args: Any) -> None:
        self.factory, self.settings, self.args = factory, settings, args
        self.schedule = Schedule(args.retrain_every, args.warmup)
        self.policy = Policy(target_precision=args.target, audit_rate=args.audit_rate)
        self.intake_rng = random.Random(args.seed + 1)  # audit draws
        self.reviewer_rng = random.Random(args.seed + 2)  # reviewer mistakes
        self.clock = START
        self.model: LoadedModel | None = None
        self.answers = 0
        self.answers_at_last_run = 0
        self.log = StreamLog()
        self.runs: list[RunRecord] = []
        self.labels: list[str] = []

    def now(self) -> datetime:
        """The simulated clock; it does not move while the job trains (see the report)."""
        return self.clock

    def reviewer_label(self, gold: str) -> str:
        """The gold label, or with probability --reviewer-error another label at random."""
        if self.args.reviewer_error and self.reviewer_rng.random() < self.args.reviewer_error:
            return self.reviewer_rng.choice([label for label in self.labels if label != gold])
        return gold

    def process(self, index: int, text: str, gold: str) -> None:
        """Submit one ticket, answer it if a person must, then poll the retraining job."""
        self.clock += TICK
        try:
            request = validate_new_ticket(text=text)
        except Exception:  # noqa: BLE001 - intake refuses it; so would the API
            self.log.skipped_invalid += 1
            return
        result = submit_ticket(
            request,
            factory=self.factory,
            model=self.model,
            policy=self.policy,
            now=self.clock,
            rng=self.intake_rng,
        )
        ticket = result.ticket
        automated = ticket.status == TicketStatus.AUTO
        needs_answer = ticket.status == TicketStatus.PENDING or ticket.decision == "audit"
        self.log.automated.append(automated)
        self.log.correct.append(automated and ticket.final_label == gold)
        self.log.answered.append(needs_answer)
        if needs_answer:
            self.answer(ticket.id, gold)
        self.poll_retraining(index)

    def answer(self, ticket_id: int, gold: str) -> None:
        """The simulated reviewer clicks a label (quorum 1: the answer decides the ticket)."""
        with unit_of_work(self.factory) as session:
            record_answer(
                ticket_id,
                user=REVIEWER,
                label=self.reviewer_label(gold),
                quorum=1,
                session=session,
                now=self.clock,
            )
        self.answers += 1

    def poll_retraining(self, index: int) -> None:
        """Run the job as the worker would; it returns None when retraining is not due."""
        settings = self.settings.with_overrides(
            retrain_min_answers=self.schedule.min_answers(self.answers_at_last_run)
        )
        started = time.perf_counter()
        run = run_retraining(self.factory, settings=settings, now=self.now)
        if run is None:
            return
        self.answers_at_last_run = self.answers
        seconds = time.perf_counter() - started
        self.runs.append(self.describe_run(index, run, seconds))
        self.reload_model()
        print_run(self.runs[-1])

    def describe_run(self, index: int, run: Any, seconds: float) -> RunRecord:
        """Summarise the job's own record of the run (status, gate reason, thresholds)."""
        promoted = gate = n_examples = threshold = never = None
        if run.model_version_id is not None:
            with unit_of_work(self.factory) as session:
                version = session.get(ModelVersion, run.model_version_id)
                assert version is not None
                gate = version.metrics.get("gate")
                promoted = version.status != "rejected"
                n_examples = version.n_examples
                threshold = version.thresholds.get("default")
                never = len(version.thresholds.get("never_auto", []))
        return RunRecord(
            ticket_index=index,
            answers=self.answers,
            trigger=run.trigger,
            status=str(run.status),
            promoted=promoted,
            gate=gate,
            n_examples=n_examples,
            threshold_default=threshold,
            never_auto=never,
            seconds=round(seconds, 2),
            error=run.error,
        )

    def reload_model(self) -> None:
        """Switch to the active model at once (a web process would within its refresh)."""
        with unit_of_work(self.factory) as session:
            from storage.queries.model_versions import active_version

            active = active_version(session=session)
            if active is None or (self.model and self.model.version_id == active.id):
                return
            self.model = load_active(session=session)


def print_run(run: RunRecord) -> None:
    """One stderr line per retraining so a long run shows where the model stands."""
    outcome = "promoted" if run.promoted else ("rejected" if run.promoted is False else run.status)
    print(
        f"  retrain at ticket {run.ticket_index + 1:,} ({run.answers:,} answers): {outcome}, "
        f"{run.n_examples} examples, threshold {run.threshold_default}, {run.seconds:.0f}s"
        + (f" [{run.error}]" if run.error else ""),
        file=sys.stderr,
        flush=True,
    )


def print_progress(sim: Simulation, done: int, total: int, started: float) -> None:
    """Tickets, answers, recent automation and retrainings, on stderr."""
    recent = sim.log.automated[-1000:]
    rate = sum(recent) / len(recent) if recent else 0.0
    print(
        f"{done:,}/{total:,} tickets, {sim.answers:,} answers, automation (last 1,000) "
        f"{rate:.1%}, {len(sim.runs)} retrainings, {time.perf_counter() - started:.0f}s",
        file=sys.stderr,
        flush=True,
    )


# --------------------------------------------------------------------------- metrics


def wilson(successes: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval: honest for small windows and precision near 1."""
    if total == 0:
        return None
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def segment(log: StreamLog, start: int, stop: int) -> dict[str, Any]:
    """Automation, precision of automated (with Wilson 95%) and answers over [start, stop)."""
    automated = log.automated[start:stop]
    n, n_auto = len(automated), sum(automated)
    n_correct = sum(log.correct[start:stop])
    interval = wilson(n_correct, n_auto)
    return {
        "start": start,
        "stop": stop,
        "tickets": n,
        "automated": n_auto,
        "automation_rate": n_auto / n if n else None,
        "auto_correct": n_correct,
        "auto_precision": n_correct / n_auto if n_auto else None,
        "auto_precision_wilson95": None if interval is None else list(interval),
        "answers": sum(log.answered[start:stop]),
    }


def windows(log: StreamLog, size: int) -> list[dict[str, Any]]:
    """Consecutive windows of `size` tickets (the last may be shorter)."""
    total = len(log.automated)
    return [segment(log, start, min(start + size, total)) for start in range(0, total, size)]


def target_checks(
    totals: dict[str, Any], per_window: list[dict[str, Any]], target: float
) -> dict[str, Any]:
    """The issue's targets, each with the measured value next to the boolean."""
    precisions = [w["auto_precision"] for w in per_window if w["auto_precision"] is not None]
    worst = min(precisions) if precisions else None
    whole = totals["whole"]["auto_precision"]
    last = totals["last_2000"]["automation_rate"]
    return {
        "precision_whole_stream": {
            "value": whole,
            "target": target,
            "met": whole is not None and whole >= target,
        },
        "precision_every_window": {
            "worst_window": worst,
            "target": target,
            "met": worst is not None and worst >= target,
        },
        "automation_last_2000": {"value": last, "target": 0.75, "met": last >= 0.75},
        "human_answers": {
            "value": totals["human_answers"],
            "target": "< 4500",
            "met": totals["human_answers"] < 4500,
        },
    }


def test_metrics(factory: sessionmaker[Session], data_dir: Path) -> dict[str, Any] | None:
    """The final active model with its own thresholds on test.csv."""
    with unit_of_work(factory) as session:
        model = load_active(session=session)
    if model is None:
        return None
    texts, labels = read_split(data_dir / "test.csv")
    metrics = evaluate(model.model, texts, labels, model.thresholds)
    return {"model_version": model.version_id, "n": len(texts), **metrics.to_dict()}


# --------------------------------------------------------------------------- plot


def rolling(values: Sequence[bool], mask: Sequence[bool] | None, width: int) -> np.ndarray:
    """Trailing mean over `width` tickets (of the masked ones when a mask is given)."""
    x = np.asarray(values, dtype=float)
    m = np.ones_like(x) if mask is None else np.asarray(mask, dtype=float)
    num = np.convolve(x * m, np.ones(width), mode="full")[: len(x)]
    den = np.convolve(m, np.ones(width), mode="full")[: len(x)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def plot(sim: Simulation, result: dict[str, Any], out: Path, width: int) -> None:
    """Automation and precision of automated along the stream; cumulative answers below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = sim.log
    x = np.arange(1, len(log.automated) + 1)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    top.plot(x, rolling(log.automated, None, width), label=f"automation rate ({width} rolling)")
    precision = rolling(log.correct, log.automated, width)
    top.plot(x, precision, label=f"precision of automated ({width} rolling)")
    top.axhline(sim.args.target, color="black", linestyle=":", label="target precision")
    top.axhline(0.75, color="grey", linestyle="--", linewidth=0.8, label="75% automation")
    for run in sim.runs:
        colour = "tab:green" if run.promoted else "tab:red"
        top.axvline(run.ticket_index + 1, color=colour, alpha=0.35, linewidth=0.8)
    top.plot([], [], color="tab:green", alpha=0.5, label="retraining: promoted")
    top.plot([], [], color="tab:red", alpha=0.5, label="retraining: rejected / failed")
    top.set_ylim(0, 1.02)
    top.set_ylabel("share")
    top.legend(loc="lower right", fontsize=8)
    top.set_title(result["title"], fontsize=10)
    bottom.plot(x, np.cumsum(log.answered), color="tab:purple")
    bottom.set_ylabel("human answers (cumulative)")
    bottom.set_xlabel("tickets in arrival order")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- markdown


def markdown(result: dict[str, Any], variants: list[dict[str, Any]]) -> str:
    """A BENCHMARKS.md section: config, targets, windows and the variants tried."""
    cfg, totals, checks = result["config"], result["totals"], result["targets"]
    test = result["test"] or {}
    lines = [
        "## Human-in-the-loop stream (`benchmarks/hitl_stream.py`)",
        "",
        f"Command: `{result['command']}`  ",
        f"Schedule: {cfg['schedule']}; target precision {cfg['target_precision']}; "
        f"reviewer error {cfg['reviewer_error']}; audit rate {cfg['audit_rate']}; "
        f"seed {cfg['seed']}; wall time {result['wall_seconds'] / 60:.1f} min.",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
        f"| precision of automated, whole stream >= {cfg['target_precision']} | "
        f"{_pct(checks['precision_whole_stream']['value'])} | "
        f"{_yes(checks['precision_whole_stream']['met'])} |",
        f"| precision of automated, every 1,000 window >= {cfg['target_precision']} | worst "
        f"{_pct(checks['precision_every_window']['worst_window'])} | "
        f"{_yes(checks['precision_every_window']['met'])} |",
        f"| automation over the last 2,000 >= 75% | "
        f"{_pct(checks['automation_last_2000']['value'])} | "
        f"{_yes(checks['automation_last_2000']['met'])} |",
        f"| human answers < 4,500 | {totals['human_answers']:,} | "
        f"{_yes(checks['human_answers']['met'])} |",
        "",
        f"Final model on test.csv: accuracy {_pct(test.get('accuracy'))}, macro-F1 "
        f"{_pct(test.get('macro_f1'))}, coverage at its thresholds {_pct(test.get('coverage'))}"
        f", precision of automated {_pct(test.get('auto_precision'))}. Retrainings: "
        f"{result['retraining']['runs']} ({result['retraining']['promoted']} promoted, "
        f"{result['retraining']['rejected']} rejected, {result['retraining']['failed']} failed).",
        "",
        "| Tickets | Automation | Precision of automated (Wilson 95%) | Answers |",
        "|---|---|---|---|",
    ]
    for w in result["windows"]:
        interval = w["auto_precision_wilson95"]
        shown = "-" if interval is None else f"{_pct(interval[0])}-{_pct(interval[1])}"
        lines.append(
            f"| {w['start'] + 1:,}-{w['stop']:,} | {_pct(w['automation_rate'])} | "
            f"{_pct(w['auto_precision'])} ({shown}) | {w['answers']:,} |"
        )
    lines += [
        "",
        "Retraining runs (answers when the job ran -> global threshold of the new model):",
        ", ".join(
            f"{run['answers']:,} -> "
            + (run["status"] if run["n_examples"] is None else _threshold(run))
            for run in result["retraining"]["log"]
        ),
    ]
    if variants:
        lines += [
            "",
            "Variants measured (seed-0 stream, exact reviewer, no audits unless stated):",
            "",
            "| Variant | Answers | Automation last 2,000 | Precision whole | Worst window "
            "| Test accuracy | Retrainings | Wall |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for v in variants:
            vt, vc = v["totals"], v["targets"]
            lines.append(
                f"| {v['config']['label']} | {vt['human_answers']:,} | "
                f"{_pct(vt['last_2000']['automation_rate'])} | "
                f"{_pct(vt['whole']['auto_precision'])} | "
                f"{_pct(vc['precision_every_window']['worst_window'])} | "
                f"{_pct((v['test'] or {}).get('accuracy'))} | {v['retraining']['runs']} | "
                f"{v['wall_seconds'] / 60:.1f} min |"
            )
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _threshold(run: dict[str, Any]) -> str:
    value = run["threshold_default"]
    shown = "never" if value is None else f"{value:.3f}"
    return shown if run["promoted"] else f"{shown} (rejected)"


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line; defaults reproduce the reported run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=0.95, help="target precision")
    parser.add_argument("--retrain-every", type=int, default=500)
    parser.add_argument(
        "--warmup",
        type=parse_warmup,
        default=(),
        help="cumulative answer counts to retrain at before --retrain-every, e.g. 50,100,200",
    )
    parser.add_argument("--reviewer-error", type=float, default=0.0)
    parser.add_argument(
        "--audit-rate", type=float, default=Settings().audit_rate, help="default: the service's"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N tickets")
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--label", default=None, help="name of this variant in tables")
    parser.add_argument("--out", type=Path, default=RESULTS / "hitl_stream.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "hitl_stream.png")
    parser.add_argument("--md", type=Path, default=None, help="write a BENCHMARKS.md section")
    parser.add_argument(
        "--variants", type=Path, nargs="*", default=[], help="other runs' JSON for the md table"
    )
    return parser.parse_args(argv)


def build_database(url: str, labels: Sequence[str]) -> sessionmaker[Session]:
    """Fresh migrated schema with every label created up front (the review select needs them)."""
    engine = create_db_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        ensure_labels(labels, session=session, now=START)
    return factory


def run_stream(
    factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace
) -> tuple[Simulation, float]:
    """Feed the stream through the loop; return the simulation and the wall time."""
    texts, gold = read_split(args.data_dir / "train.csv")
    stream = shuffled_stream(texts, gold, args.seed)[: args.limit]
    sim = Simulation(factory, settings, args)
    sim.labels = sorted(set(gold))
    started = time.perf_counter()
    for index, (text, label) in enumerate(stream):
        sim.process(index, text, label)
        if (index + 1) % 500 == 0 or index + 1 == len(stream):
            print_progress(sim, index + 1, len(stream), started)
    return sim, time.perf_counter() - started


def summarise(
    sim: Simulation, args: argparse.Namespace, wall: float, test: dict[str, Any] | None
) -> dict[str, Any]:
    """Everything the JSON holds: config, windows, totals, retraining and target checks."""
    log = sim.log
    total = len(log.automated)
    totals = {
        "tickets": total,
        "skipped_invalid": log.skipped_invalid,
        "human_answers": sim.answers,
        "whole": segment(log, 0, total),
        "last_2000": segment(log, max(0, total - 2000), total),
    }
    per_window = windows(log, args.window)
    statuses = [run.status for run in sim.runs]
    label = args.label or (
        f"{sim.schedule.describe()}, target {args.target}"
        + (f", reviewer error {args.reviewer_error}" if args.reviewer_error else "")
        + (f", audit {args.audit_rate}" if args.audit_rate else "")
    )
    return {
        "title": f"HITL stream on Banking77 train ({label})",
        "command": "python " + " ".join(sys.argv),
        "config": {
            "label": label,
            "seed": args.seed,
            "target_precision": args.target,
            "schedule": sim.schedule.describe(),
            "retrain_every": args.retrain_every,
            "warmup": list(args.warmup),
            "reviewer_error": args.reviewer_error,
            "audit_rate": args.audit_rate,
            "limit": args.limit,
            "window": args.window,
            "labels": "all 77 created up front with ensure_labels",
            "clock": "1 simulated minute per ticket; frozen while the job trains",
            "model_switch": "immediately after a promotion (web: within model_refresh_seconds)",
        },
        "windows": per_window,
        "totals": totals,
        "retraining": {
            "runs": len(sim.runs),
            "promoted": sum(1 for run in sim.runs if run.promoted),
            "rejected": sum(1 for run in sim.runs if run.promoted is False),
            "failed": statuses.count("failed"),
            "seconds": round(sum(run.seconds for run in sim.runs), 1),
            "log": [asdict(run) for run in sim.runs],
        },
        "wall_seconds": round(wall, 1),
        "test": test,
        "targets": target_checks(totals, per_window, args.target),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run one variant of the stream and write JSON, PNG and optionally Markdown."""
    args = parse_args(argv)
    logging.getLogger("jobs").setLevel(logging.ERROR)  # alerts are in the JSON instead
    from threadpoolctl import threadpool_limits

    _, gold = read_split(args.data_dir / "train.csv")
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'hitl.db'}"
        factory = build_database(url, sorted(set(gold)))
        settings = Settings.from_env({}, dotenv_path=None).with_overrides(
            database_url=url, target_precision=args.target, audit_rate=args.audit_rate
        )
        sim, wall = run_stream(factory, settings, args)
        test = test_metrics(factory, args.data_dir)
    result = summarise(sim, args, wall, test)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(sim, result, args.plot, width=min(500, max(1, len(sim.log.automated))))
    if args.md is not None:
        variants = [json.loads(p.read_text(encoding="utf-8")) for p in args.variants]
        args.md.write_text(markdown(result, variants), encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("totals", "targets", "test")}, indent=2))


if __name__ == "__main__":
    main()

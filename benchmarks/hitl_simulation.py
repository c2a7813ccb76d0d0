"""The human-in-the-loop stream, simulated: tickets through the real intake, a simulated
reviewer answering through the real service, and the real retraining job polled as the worker
would. `benchmarks.hitl_stream` runs it; `benchmarks.hitl_report` turns its log into figures.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInput
from bot.services.answers import record_answer
from bot.services.intake import submit_ticket, validate_new_ticket
from bot.services.models import LoadedModel, load_active
from bot.services.policy import Policy
from bot.settings import Settings
from classifier import Decision
from jobs.retraining import run_retraining
from storage.database import create_db_engine, session_factory, unit_of_work
from storage.migrate import upgrade
from storage.models import ModelStatus, ModelVersion, TicketStatus
from storage.queries.labels import ensure_labels
from storage.queries.model_versions import active_version

REVIEWER = "Usim"
START = datetime(2024, 1, 1, tzinfo=UTC)
TICK = timedelta(minutes=1)


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
        except InvalidInput:  # intake refuses it; so would the API
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
        needs_answer = ticket.status == TicketStatus.PENDING or ticket.decision == Decision.AUDIT
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
                promoted = version.status != ModelStatus.REJECTED
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


# --------------------------------------------------------------------------- running


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

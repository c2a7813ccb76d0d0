"""The human-in-the-loop stream, simulated: tickets through the real intake, a simulated
reviewer answering through the real service, and the real retraining job polled as the worker
would. `benchmarks.hitl_stream` runs it; `benchmarks.hitl_report` turns its log into figures.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInput
from bot.services.answers import record_answer, record_no_label
from bot.services.intake import submit_ticket, validate_new_ticket
from bot.services.models import LoadedModel, load_active, load_version
from bot.services.policy_cache import PolicyCache
from bot.services.topics import create_label_from_topic, dismiss_topic
from bot.settings import Settings
from classifier import Decision
from classifier.evaluation import evaluate
from jobs.retraining import run_retraining
from jobs.topics import look_for_topics
from storage.database import create_db_engine, session_factory, unit_of_work
from storage.migrate import upgrade
from storage.models import ModelStatus, ModelVersion, Ticket, TicketStatus
from storage.queries.labels import ensure_labels
from storage.queries.model_versions import active_version
from storage.queries.topics import open_topics, topic_tickets

REVIEWER = "Usim"
ADMIN = "Uadmin"
# The simulated admin acts on a new topic this long after it was found (reads the alert,
# looks at the examples, names the label).
ADMIN_DELAY = timedelta(hours=1)
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


def valid_name(intent: str) -> str:
    """An intent's name as a label name can be written (Banking77 has a `?` in one)."""
    return re.sub(r"[^\w.:/-]", "", intent)


def withheld_intents(labels: Sequence[str], count: int, seed: int) -> set[str]:
    """The intents of the new-topic variant: nobody has seen them before they arrive."""
    return set(random.Random(seed).sample(sorted(set(labels)), count)) if count else set()


def with_new_topic(
    stream: list[tuple[str, str]], withheld: set[str], arrive_at: int, seed: int
) -> list[tuple[str, str]]:
    """The same tickets, but those of `withheld` intents only from index `arrive_at` on,
    mixed at random into the rest of the stream (a new product launched that day)."""
    if not withheld:
        return stream
    known = [item for item in stream if item[1] not in withheld]
    later = known[arrive_at:] + [item for item in stream if item[1] in withheld]
    random.Random(seed + 3).shuffle(later)
    return known[:arrive_at] + later


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
    gold: list[str] = field(default_factory=list)
    novel: list[bool] = field(default_factory=list)  # sent to people as unlike anything learned
    # Each automated ticket of a withheld intent: where it stood (Simulation.describe_automated).
    withheld_automated: list[dict[str, Any]] = field(default_factory=list)
    skipped_invalid: int = 0


@dataclass(frozen=True)
class TopicEvent:
    """A new topic found by the job, and what the simulated admin did with it."""

    ticket_index: int  # the stream position when it was found (its alert was raised)
    topic_id: int
    size: int
    proposed_label: str
    majority_gold: str
    action: str = "found"  # found, created, dismissed


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
    # The new version under its own thresholds: on its cross-validated (out-of-fold)
    # predictions, which tuned them, and on test.csv, which it never saw; a gap between the
    # two is what the threshold's guarantee did not foresee.
    cv_coverage: float | None = None
    cv_precision: float | None = None
    test_coverage: float | None = None
    test_precision: float | None = None


class Simulation:
    """The moving parts of one stream: database, clock, reviewer, model and schedule."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, args: Any) -> None:
        self.factory, self.settings, self.args = factory, settings, args
        self.schedule = Schedule(args.retrain_every, args.warmup)
        self.intake_rng = random.Random(args.seed + 1)  # audit draws
        self.reviewer_rng = random.Random(args.seed + 2)  # reviewer mistakes
        self.clock = START
        self.model: LoadedModel | None = None
        self.answers = 0
        self.answers_at_last_run = 0
        self.log = StreamLog()
        self.runs: list[RunRecord] = []
        self.labels: list[str] = []
        self.topics: list[TopicEvent] = []
        self.withheld: set[str] = set()
        self.gold_by_text: dict[str, str] = {}
        self.named: dict[str, str] = {}  # withheld intent -> the label an admin created
        self.last_topic_check = START
        self.policies = PolicyCache(settings)  # as a web process reads it: once per stamp
        self.unlabelled_bank = not getattr(args, "no_unlabelled_bank", False)
        self.test_split: tuple[list[str], list[str]] | None = None

    def now(self) -> datetime:
        """The simulated clock; it does not move while the job trains (see the report)."""
        return self.clock

    def reviewer_label(self, gold: str) -> str:
        """The gold label, or with probability --reviewer-error another label at random."""
        if self.args.reviewer_error and self.reviewer_rng.random() < self.args.reviewer_error:
            return self.reviewer_rng.choice([label for label in self.labels if label != gold])
        return gold

    def exists(self, gold: str) -> bool:
        """Whether people can pick the intent's label yet (a withheld one's, once an admin made
        it)."""
        return self.label_for(gold) in self.labels

    def label_for(self, gold: str) -> str:
        """The label name people use for an intent: its own, or the admin's valid version of
        it (`reverted_card_payment?` cannot be typed as a label name)."""
        return self.named.get(gold, gold)

    def process(self, index: int, text: str, gold: str) -> None:
        """Submit one ticket, answer it if a person must, then poll the retraining job."""
        self.clock += TICK
        try:
            request = validate_new_ticket(text=text)
        except InvalidInput:  # intake refuses it; so would the API
            self.log.skipped_invalid += 1
            return
        with unit_of_work(self.factory) as session:  # what admins set, open topics included
            policy = self.policies.get(session=session)
        if not self.unlabelled_bank:
            policy = replace(policy, unlabelled=np.zeros((0, 0), dtype=np.float32))
        result = submit_ticket(
            request,
            factory=self.factory,
            model=self.model,
            policy=policy,
            now=self.clock,
            rng=self.intake_rng,
        )
        ticket = result.ticket
        automated = ticket.status == TicketStatus.AUTO
        needs_answer = ticket.status == TicketStatus.PENDING or ticket.decision == Decision.AUDIT
        self.log.automated.append(automated)
        self.log.correct.append(automated and ticket.final_label == self.label_for(gold))
        self.log.answered.append(needs_answer)
        self.log.gold.append(gold)
        self.log.novel.append(ticket.novel)
        if gold in self.withheld and automated:
            self.log.withheld_automated.append(self.describe_automated(index, gold, ticket))
        if needs_answer:
            self.answer(ticket.id, gold)
        self.poll_topics(index)
        self.poll_retraining(index)

    def describe_automated(self, index: int, gold: str, ticket: Ticket) -> dict[str, Any]:
        """Where a withheld intent's automated ticket stood: before or after the first topic
        alert, what had become of its own intent's topic, and the gate it passed."""
        classes = set() if self.model is None else {str(c) for c in self.model.model.classes_}
        found = [t for t in self.topics if t.action == "found" and t.majority_gold in self.withheld]
        if self.label_for(gold) in classes:
            stage = "label learned by the model"
        elif self.exists(gold):
            stage = "label created, not learned yet"
        elif any(t.majority_gold == gold for t in found):
            stage = "own topic open"
        else:
            stage = "no topic of its own yet"
        return {
            "ticket_index": index,
            "gold": gold,
            "label": ticket.final_label,
            "correct": ticket.final_label == self.label_for(gold),
            "after_first_alert": bool(found),
            "stage": stage,
            "decision": str(ticket.decision.value) if ticket.decision else None,
            "confidence": ticket.confidence,
            "novelty": ticket.novelty,
        }

    def answer(self, ticket_id: int, gold: str) -> None:
        """The simulated reviewer clicks a label (quorum 1: the answer decides the ticket), or
        "none of these" with the intent's name when no such label exists yet."""
        with unit_of_work(self.factory) as session:
            if self.exists(gold):
                record_answer(
                    ticket_id,
                    user=REVIEWER,
                    label=self.reviewer_label(self.label_for(gold)),
                    quorum=1,
                    session=session,
                    now=self.clock,
                )
            else:
                record_no_label(
                    ticket_id,
                    user=REVIEWER,
                    proposed=valid_name(gold),
                    quorum=1,
                    session=session,
                    now=self.clock,
                )
        self.answers += 1

    def poll_topics(self, index: int) -> None:
        """The worker's new-topic job on its schedule; then the admin acts on old enough ones."""
        if self.clock - self.last_topic_check < timedelta(
            seconds=self.settings.topic_check_seconds
        ):
            return
        self.last_topic_check = self.clock
        with unit_of_work(self.factory) as session:
            news = look_for_topics(session=session, settings=self.settings, now=self.clock)
            for found in news.found:
                golds = [self.gold_of(t) for t in topic_tickets(found.topic_id, session=session)]
                majority = max(set(golds), key=golds.count)
                self.topics.append(
                    TopicEvent(index, found.topic_id, found.tickets, found.proposed_label, majority)
                )
        self.act_on_topics(index)

    def gold_of(self, ticket: Ticket) -> str:
        """The true intent of a stored ticket (the simulation remembers every text's)."""
        return self.gold_by_text[ticket.text]

    def act_on_topics(self, index: int) -> None:
        """What an admin does with an open topic an hour after its alert: create the label if
        most of its tickets are of one intent that has no label, else dismiss it; then the
        re-asked tickets are answered."""
        with unit_of_work(self.factory) as session:
            due = [
                t for t in open_topics(session=session) if self.clock - t.found_at >= ADMIN_DELAY
            ]
            for topic in due:
                golds = [self.gold_of(t) for t in topic_tickets(topic.id, session=session)]
                majority = max(set(golds), key=golds.count)
                create = not self.exists(majority) and 2 * golds.count(majority) > len(golds)
                if create:
                    self.named[majority] = valid_name(majority)
                    create_label_from_topic(
                        topic.id,
                        self.named[majority],
                        session=session,
                        settings=self.settings,
                        actor=ADMIN,
                        now=self.clock,
                    )
                    self.labels.append(self.named[majority])
                else:
                    dismiss_topic(
                        topic.id,
                        session=session,
                        settings=self.settings,
                        actor=ADMIN,
                        now=self.clock,
                    )
                self.topics.append(
                    TopicEvent(
                        index,
                        topic.id,
                        len(golds),
                        topic.proposed_label,
                        majority,
                        "created" if create else "dismissed",
                    )
                )
            reasked = [
                (t.id, self.gold_of(t))
                for topic in due
                for t in topic_tickets(topic.id, session=session)
                if t.status == TicketStatus.PENDING
            ]
        for ticket_id, gold in reasked:
            self.answer(ticket_id, gold)

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
        """Summarise the job's own record of the run (status, gate reason, thresholds), and
        score the new version on its out-of-fold predictions and on test.csv."""
        promoted = gate = n_examples = threshold = never = None
        scores: dict[str, float | None] = {}
        if run.model_version_id is not None:
            with unit_of_work(self.factory) as session:
                version = session.get(ModelVersion, run.model_version_id)
                assert version is not None
                gate = version.metrics.get("gate")
                promoted = version.status != ModelStatus.REJECTED
                n_examples = version.n_examples
                threshold = version.thresholds.get("default")
                never = len(version.thresholds.get("never_auto", []))
                cv = version.metrics.get("cv") or {}
                scores = {
                    "cv_coverage": cv.get("coverage"),
                    "cv_precision": cv.get("auto_precision"),
                    **self.test_scores(load_version(version)),
                }
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
            **scores,
        )

    def test_scores(self, loaded: LoadedModel) -> dict[str, float | None]:
        """Coverage and precision of a version under its own thresholds on test.csv."""
        if self.test_split is None:
            self.test_split = read_split(self.args.data_dir / "test.csv")
        metrics = evaluate(loaded.model, *self.test_split, loaded.thresholds)
        return {"test_coverage": metrics.coverage, "test_precision": metrics.auto_precision}

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
        f"{run.n_examples} examples, threshold {run.threshold_default}, {run.seconds:.0f}s, "
        f"test precision {run.test_precision} at coverage {run.test_coverage}"
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
    """Fresh migrated schema with the known labels created up front (the review select needs
    them); a withheld intent's label exists only once an admin creates it."""
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
    withheld = withheld_intents(gold, args.new_topic_intents, args.seed)
    stream = with_new_topic(
        shuffled_stream(texts, gold, args.seed), withheld, args.new_topic_at, args.seed
    )[: args.limit]
    sim = Simulation(factory, settings, args)
    sim.labels = sorted(set(gold) - withheld)
    sim.withheld = withheld
    sim.gold_by_text = dict(zip(texts, gold, strict=True))
    started = time.perf_counter()
    for index, (text, label) in enumerate(stream):
        sim.process(index, text, label)
        if (index + 1) % 500 == 0 or index + 1 == len(stream):
            print_progress(sim, index + 1, len(stream), started)
    return sim, time.perf_counter() - started

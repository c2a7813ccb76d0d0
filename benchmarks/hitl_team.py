"""The reviewer side of the HITL stream: a team of named people who make mistakes.

Six reviewers answer in turn, each wrong at their own rate. A wrong answer is one a person
would give: the model's wrong suggestion (people accept a confident-looking guess), or, with
no such suggestion, one of the gold label's nearest labels (by the centroid similarity of
their tickets). Second opinions, escalation and reliability are the service's
(`record_answer` with the rules in force); the team only decides who clicks and what.
Imported history can carry wrong labels too, drawn the same way.

Kept apart from `benchmarks.hitl_simulation` (the stream and its novelty parts), which it
extends by overriding `Simulation.answer` only.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.hitl_simulation import (
    ADMIN,
    START,
    Simulation,
    print_progress,
    read_split,
    shuffled_stream,
    valid_name,
)
from bot.services.answers import AnswerStatus, record_answer, record_no_label
from bot.services.importing import LabelledRow, import_labelled_rows
from bot.services.policy import current_policy
from bot.services.reasking import count_reasked
from bot.services.reliability import audit_answer_error, reviewer_reliability
from bot.services.second_opinions import opinion_rules
from bot.services.stats import audit_powered_estimate
from bot.settings import Settings
from classifier import Decision
from classifier.intervals import PoweredEstimate
from classifier.thresholds import corrected_precision
from storage.database import unit_of_work
from storage.models import Ticket, TicketStatus

NAMES = ("Uada", "Ubea", "Ucyd", "Udan", "Ueve", "Ufox")
NEAREST = 3  # a person confuses a label with one of its 3 nearest
ADMIN_ERROR = 0.0  # the admin who settles three-way disagreements (stated in the report)
STILL_OPEN = (AnswerStatus.SECOND_OPINION, AnswerStatus.RECORDED)

TEAMS = {
    "exact": (0.0,) * 6,
    "all2": (0.02,) * 6,
    "all5": (0.05,) * 6,
    "one20": (0.02, 0.02, 0.02, 0.02, 0.02, 0.20),
}


def parse_team(raw: str) -> tuple[float, ...]:
    """A named team (exact, all2, all5, one20) or six comma-separated error rates."""
    if raw in TEAMS:
        return TEAMS[raw]
    rates = tuple(float(part) for part in raw.split(","))
    if len(rates) != len(NAMES) or not all(0 <= r < 1 for r in rates):
        raise argparse.ArgumentTypeError("six error rates in [0, 1), or a team name")
    return rates


def nearest_labels(texts: Sequence[str], labels: Sequence[str]) -> dict[str, list[str]]:
    """Each label's most similar labels by the cosine of their tickets' TF-IDF centroids."""
    names = sorted(set(labels))
    matrix = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(texts)
    index = {name: k for k, name in enumerate(names)}
    rows = np.asarray([index[label] for label in labels])
    centroids = np.vstack([np.asarray(matrix[rows == k].mean(axis=0)) for k in range(len(names))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    similarity = centroids @ centroids.T
    np.fill_diagonal(similarity, -1.0)
    return {
        name: [names[j] for j in np.argsort(-similarity[k])[:NEAREST]]
        for k, name in enumerate(names)
    }


@dataclass
class TeamLog:
    """What the team did, for the report."""

    answers: dict[str, int] = field(default_factory=dict)
    wrong: dict[str, int] = field(default_factory=dict)
    second_opinions: int = 0  # tickets whose first answer waited for another
    escalated: int = 0  # tickets an admin settled
    settled_wrong: int = 0  # tickets people settled on a label other than gold
    settled: int = 0
    history_wrong: int = 0
    # Per second-opinion reason ("none": settled on one answer) and first answerer:
    # [tickets, first answers wrong].
    first_answers: dict[str, list[int]] = field(default_factory=dict)


class TeamSimulation(Simulation):
    """The stream with a team of six instead of one exact reviewer."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, args: Any) -> None:
        super().__init__(factory, settings, args)
        self.errors = dict(zip(NAMES, args.team, strict=True))
        self.turn = 0
        self.nearest: dict[str, list[str]] = {}
        self.team = TeamLog()
        self.mistake_rng = random.Random(args.seed + 5)

    def wrong_label(self, gold: str, suggestions: list[Any]) -> str:
        """What a person confuses `gold` with: the model's best wrong suggestion when it has
        one worth a second look, else one of the gold label's nearest labels."""
        guesses = [str(name) for name, p in suggestions or [] if p is not None and name != gold]
        guesses = [g for g in guesses if g in self.labels]
        if guesses and self.mistake_rng.random() < 0.5:
            return guesses[0]
        near = [n for n in self.nearest.get(gold, []) if n in self.labels]
        return self.mistake_rng.choice(near) if near else guesses[0] if guesses else gold

    def next_person(self, answered: set[str]) -> str:
        """The next reviewer in turn who has not answered this ticket."""
        for _ in NAMES:
            person = NAMES[self.turn % len(NAMES)]
            self.turn += 1
            if person not in answered:
                return person
        raise RuntimeError("everyone answered")  # three-way disagreements go to the admin

    def answer(self, ticket_id: int, gold: str) -> None:
        """People answer until the ticket settles: the first in turn, then others as the
        service asks for second opinions, then the admin when three disagree."""
        answered: set[str] = set()
        while True:
            with unit_of_work(self.factory) as session:
                ticket = session.get(Ticket, ticket_id)
                assert ticket is not None
                distinct = {r.label for r in ticket.reviews if r.undone_at is None}
                admin = len(distinct) >= 3 and ticket.second_opinion is not None
                person = ADMIN if admin else self.next_person(answered)
                rate = ADMIN_ERROR if admin else self.errors[person]
                policy = current_policy(session=session, settings=self.settings)
                rules = opinion_rules(settings=self.settings, policy=policy)
                if not self.exists(gold):
                    outcome = record_no_label(
                        ticket_id,
                        user=person,
                        proposed=valid_name(gold),
                        quorum=1,
                        session=session,
                        now=self.clock,
                        opinions=rules,
                        admin=admin,
                    )
                else:
                    right = self.label_for(gold)
                    wrong = self.reviewer_rng.random() < rate
                    label = self.wrong_label(right, ticket.suggestions or []) if wrong else right
                    outcome = record_answer(
                        ticket_id,
                        user=person,
                        label=label,
                        quorum=1,
                        session=session,
                        now=self.clock,
                        opinions=rules,
                        admin=admin,
                    )
                    self.team.wrong[person] = self.team.wrong.get(person, 0) + (label != right)
                    if not answered:
                        reason = f"{ticket.second_opinion or 'none'} {person}"
                        counts = self.team.first_answers.setdefault(reason, [0, 0])
                        counts[0] += 1
                        counts[1] += label != right
                self.team.answers[person] = self.team.answers.get(person, 0) + 1
                self.answers += 1
                answered.add(person)
                if len(answered) == 2 and outcome.status != AnswerStatus.DUPLICATE:
                    self.team.second_opinions += 1
                if outcome.status not in STILL_OPEN:
                    self.team.escalated += admin
                    settled = session.get(Ticket, ticket_id)
                    if settled is not None and self.exists(gold):
                        self.team.settled += 1
                        self.team.settled_wrong += settled.final_label != self.label_for(gold)
                    return


def import_history(
    sim: TeamSimulation, stream: list[tuple[str, str]], size: int, error: float
) -> list[tuple[str, str]]:
    """Import the first `size` tickets as labelled history, `error` of them wrong the way a
    hurried agent errs (a nearest label); return the rest of the stream."""
    if not size:
        return stream
    rng = random.Random(sim.args.seed + 7)
    rows = []
    for text, gold in stream[:size]:
        label = gold
        if rng.random() < error:
            label = rng.choice(sim.nearest.get(gold, [gold]))
            sim.team.history_wrong += 1
        key = hashlib.sha256(text.encode()).hexdigest()
        rows.append(LabelledRow(text=text, label=label, key=key))
    with unit_of_work(sim.factory) as session:
        import_labelled_rows(rows, session=session, now=START)
    return stream[size:]


def team_report(sim: TeamSimulation, window: int = 5_000) -> dict[str, Any]:
    """Per reviewer: true and estimated accuracy; the audit estimate against true precision
    over the last `window` tickets; second opinions and escalations."""
    with unit_of_work(sim.factory) as session:
        estimates = reviewer_reliability(session=session, now=sim.clock, days=None)
    people = {
        person: {
            "error_rate": sim.errors.get(person, ADMIN_ERROR),
            "answers": count,
            "true_accuracy": 1 - sim.team.wrong.get(person, 0) / count if count else None,
            "estimated_accuracy": None
            if person not in estimates
            else round(estimates[person].accuracy, 4),
            "interval": None
            if person not in estimates
            else [round(v, 4) for v in estimates[person].interval],
        }
        for person, count in sorted(sim.team.answers.items())
    }
    return {
        "config": {
            "team": dict(zip(NAMES, sim.args.team, strict=True)),
            "admin_error": ADMIN_ERROR,
            "history": sim.args.history,
            "history_error": sim.args.history_error,
            "second_opinion_share": sim.settings.second_opinion_share,
            "second_opinion_doubts": sim.settings.second_opinion_doubts,
            "wrong_answers": "the model's best wrong suggestion half the time, else one of "
            f"the gold label's {NEAREST} nearest labels (TF-IDF centroids)",
        },
        "reviewers": people,
        "screening": screening_report(sim),
        "second_opinion_tickets": sim.team.second_opinions,
        "first_answers_by_reason": {
            reason: {"tickets": n, "wrong": wrong}
            for reason, (n, wrong) in sorted(sim.team.first_answers.items())
        },
        "escalated_to_admin": sim.team.escalated,
        "settled_by_people": sim.team.settled,
        "settled_wrong": sim.team.settled_wrong,
        "history_wrong": sim.team.history_wrong,
        "audit_vs_truth": audit_vs_truth(sim, window),
        "label_error_by_retraining": label_error_by_retraining(sim),
    }


def label_error_by_retraining(sim: TeamSimulation) -> list[dict[str, Any]]:
    """Per retraining: the least training-label error it corrected for, and imported
    history's bound with its inputs (``classifier.label_noise.imported_noise_bound``)."""
    from storage.models import ModelVersion

    with unit_of_work(sim.factory) as session:
        versions = session.scalars(select(ModelVersion).order_by(ModelVersion.id)).all()
        return [
            {
                "version": version.id,
                "n_examples": version.n_examples,
                "status": str(version.status),
                "threshold": version.thresholds.get("default"),
                **(version.metrics.get("label_error") or {}),
            }
            for version in versions
        ]


def audit_vs_truth(sim: TeamSimulation, window: int) -> dict[str, Any]:
    """What the audits said about the last `window` tickets' automatic labels, measured and
    corrected as `/triage stats` shows them, against their true precision."""
    automated = sim.log.automated[-window:]
    correct = sim.log.correct[-window:]
    true = sum(correct) / sum(automated) if sum(automated) else None
    since = sim.clock - timedelta(minutes=len(automated))  # one simulated minute a ticket
    with unit_of_work(sim.factory) as session:
        rows = session.execute(  # settled audits, as `/triage stats` counts them
            select(Ticket.predicted_label, Ticket.final_label).where(
                Ticket.decision == Decision.AUDIT,
                Ticket.decided_by.is_not(None),
                Ticket.created_at >= since,
            )
        ).all()
        days = max(1, int(np.ceil(len(automated) / (24 * 60))))
        error = audit_answer_error(session=session, now=sim.clock, days=days)
        window = (Ticket.created_at >= since, Ticket.status != TicketStatus.IMPORTED)
        powered = audit_powered_estimate(session=session, window=window)
    measured = sum(p == a for p, a in rows) / len(rows) if rows else None
    corrected = None if measured is None or error is None else corrected_precision(measured, error)
    return {
        "tickets": len(automated),
        "true_precision": true,
        "audits": len(rows),
        "audit_measured": measured,
        "audit_label_error": error,
        "audit_corrected": corrected,
        **powered_vs_truth(powered, error),
    }


def powered_vs_truth(powered: PoweredEstimate | None, error: float | None) -> dict[str, Any]:
    """The prediction-powered estimate (`bot.services.stats.audit_powered_estimate`), measured
    and corrected for the auditors' error as `/triage stats` shows it, and its parts."""
    if powered is None:
        return {"powered": None}
    values = (powered.estimate, powered.low, powered.high)
    corrected = values if not error else tuple(corrected_precision(v, error) for v in values)
    return {
        "powered": {
            "audits": powered.labelled,
            "automated": powered.predicted,
            "measured": list(values),
            "corrected": list(corrected),  # estimate, low, high
            "mean_confidence": powered.mean_prediction,
            "rectifier": powered.rectifier,
        }
    }


def run_team_stream(
    factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace
) -> tuple[TeamSimulation, float]:
    """`hitl_simulation.run_stream` with the team answering, after any imported history."""
    texts, gold = read_split(args.data_dir / "train.csv")
    stream = shuffled_stream(texts, gold, args.seed)[: args.limit]
    sim = TeamSimulation(factory, settings, args)
    sim.labels = sorted(set(gold))
    sim.gold_by_text = dict(zip(texts, gold, strict=True))
    sim.nearest = nearest_labels(texts, gold)
    stream = import_history(sim, stream, args.history, args.history_error)
    started = time.perf_counter()
    for index, (text, label) in enumerate(stream):
        sim.process(index, text, label)
        if (index + 1) % 500 == 0 or index + 1 == len(stream):
            print_progress(sim, index + 1, len(stream), started)
    return sim, time.perf_counter() - started


def screening_report(sim: TeamSimulation) -> dict[str, Any]:
    """How many wrong training labels screening left out, over every retraining."""
    from storage.models import ModelVersion

    with unit_of_work(sim.factory) as session:
        screened: set[int] = set()
        for version in session.scalars(select(ModelVersion)):
            screened.update((version.metrics.get("screening") or {}).get("tickets") or [])
        reasked = count_reasked(session=session)
        labelled = session.execute(
            select(Ticket.id, Ticket.text, Ticket.final_label).where(
                Ticket.final_label.is_not(None), Ticket.decided_by.is_not(None)
            )
        ).all()
    wrong = {
        ticket_id
        for ticket_id, text, label in labelled
        if sim.label_for(sim.gold_by_text.get(text, label)) != label
    }
    return {
        "wrong_training_labels": len(wrong),
        "screened": len(screened),
        "screened_and_wrong": len(screened & wrong),
        # The service re-asks in a ticket's review message; the simulated stream posts none
        # (no Slack), so this stays 0 here and re-asking is tested against the fake Slack.
        "re_asked_in_slack": reasked,
    }

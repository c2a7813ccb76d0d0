"""`triage demo`: the whole job on embedded defaults, from an empty directory to decisions."""

from __future__ import annotations

import argparse
import random
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from bot.cli.modelling import format_line, print_training, train_now
from bot.cli.runtime import CountProgress, open_database
from bot.clock import utc_now
from bot.services.classification import Classification, classify_texts
from bot.services.importing import import_labelled_csv, read_labelled_csv
from bot.services.models import load_active
from bot.settings import Settings
from classifier import Decision
from storage.database import describe_url, unit_of_work
from storage.migrate import current_revision, upgrade

SAMPLE = resources.files("bot") / "sample"
EXAMPLES_PER_DECISION = 4


def register(commands: Any) -> None:
    """Add `demo` to the parser."""
    demo = commands.add_parser(
        "demo", help="create the database, import the Banking77 sample, train, and decide"
    )
    demo.add_argument("--seed", type=int, default=7, help="seed for the audit sampling")
    demo.set_defaults(handler=demo_command)


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the four steps and print what would be automated and what would go to review."""
    train_file = Path(str(SAMPLE / "banking77_sample_train.csv"))
    holdout_file = Path(str(SAMPLE / "banking77_sample_holdout.csv"))
    with open_database(settings, check_schema=False) as (engine, factory):
        upgrade(engine)
        print(f"1. Database {describe_url(engine)} at migration {current_revision(engine)}.")
        with unit_of_work(factory) as session, CountProgress("importing", unit="row") as bar:
            summary = import_labelled_csv(train_file, session=session, now=utc_now(), progress=bar)
        print(
            f"2. Imported {summary.imported:,} labelled tickets from the Banking77 sample "
            f"(CC BY 4.0; {sum(summary.skipped.values()):,} already there)."
        )
        version = train_now(factory, settings, trigger="`triage demo`")
        with unit_of_work(factory) as session:
            model = load_active(session=session)
    print("3. ", end="")
    print_training(version)
    rows, _, _ = read_labelled_csv(holdout_file, text_column="text", label_column="label")
    texts, gold = [r.text for r in rows], [r.label for r in rows]
    results = classify_texts(
        texts,
        model=model,
        audit_rate=settings.audit_rate,
        rng=random.Random(args.seed),
    )
    print(
        f"4. {len(texts)} held-out sample tickets through the decision "
        f"(target precision {settings.target_precision:.0%}, audit rate {settings.audit_rate:.0%}):"
    )
    print_decisions(texts, gold, results)
    return 0


def print_decisions(texts: list[str], gold: list[str], results: list[Classification]) -> None:
    """Counts per decision with the realised precision, then a few examples of each."""
    counts = Counter(r.decision for r in results)
    confident = [
        (r, g) for r, g in zip(results, gold, strict=True) if r.decision != Decision.REVIEW
    ]
    correct = sum(r.label == g for r, g in confident)
    total = len(results)
    for decision, meaning in (
        (Decision.AUTO, "handled automatically"),
        (Decision.AUDIT, "handled automatically and sent for a blind check"),
        (Decision.REVIEW, "sent to people for review"),
    ):
        print(f"   {counts[decision]:>4} ({counts[decision] / total:5.1%}) {meaning}")
    if confident:
        print(
            f"   Automatic labels were right for {correct} of {len(confident)} "
            f"({correct / len(confident):.1%})."
        )
    for decision in (Decision.AUTO, Decision.REVIEW):
        picked = [(t, r) for t, r in zip(texts, results, strict=True) if r.decision == decision]
        if picked:
            print(f"   Examples ({decision}):")
            for text, result in picked[:EXAMPLES_PER_DECISION]:
                print(f"     {format_line(text, result)}")

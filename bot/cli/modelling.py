"""`triage train`, `triage classify` and `triage eval`: the model from the operator's seat."""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.cli.runtime import StageProgress, open_database
from bot.clock import utc_now
from bot.errors import InvalidInput, NotFound, TriageError
from bot.services.classification import Classification
from bot.services.importing import read_labelled_csv
from bot.services.intake import classify_under_policy
from bot.services.models import load_active
from bot.services.policy import current_policy
from bot.settings import Settings
from classifier import Metrics, evaluate
from jobs.retraining import run_retraining
from storage.database import unit_of_work
from storage.models import ModelStatus, ModelVersion, TrainingRunStatus


def register(commands: Any) -> None:
    """Add `train`, `classify` and `eval` to the parser."""
    commands.add_parser(
        "train", help="train on labelled tickets; activate if not worse than the active model"
    ).set_defaults(handler=train_command)

    classify = commands.add_parser("classify", help="classify texts with the active model")
    classify.add_argument("texts", nargs="*", metavar="TEXT")
    classify.add_argument("--file", type=Path, help="one text per line")
    classify.add_argument("--json", action="store_true", help="one JSON object per line")
    classify.add_argument("--seed", type=int, help="seed for the audit sampling")
    classify.set_defaults(handler=classify_command)

    ev = commands.add_parser("eval", help="measure the active model on a labelled CSV file")
    ev.add_argument("file", type=Path)
    ev.add_argument("--text-column", default="text")
    ev.add_argument("--label-column", default="label")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(handler=eval_command)


def train_command(_args: argparse.Namespace, settings: Settings) -> int:
    """Train, gate and report; exit 0 whether or not the candidate was promoted."""
    with open_database(settings) as (_, factory):
        print_training(train_now(factory, settings, trigger="`triage train` (command line)"))
    return 0


def train_now(factory: sessionmaker[Session], settings: Settings, *, trigger: str) -> ModelVersion:
    """Run the retraining job now, with progress bars; the stored version, or the reason why
    there is none as one error line."""
    with StageProgress() as progress:
        run = run_retraining(
            factory, settings=settings, now=utc_now, force=True, trigger=trigger, progress=progress
        )
    assert run is not None  # forced: it always runs
    with unit_of_work(factory) as session:
        version = (
            None
            if run.model_version_id is None
            else session.get(ModelVersion, run.model_version_id)
        )
    if run.status != TrainingRunStatus.SUCCEEDED or version is None:
        raise TriageError(f"Training #{run.id} {run.status}: {run.error}")
    return version


def print_training(version: ModelVersion) -> None:
    """The metrics side by side, then the verdict, as stored with the version."""
    metrics = version.metrics
    print(
        f"Trained model v{version.id} on {version.n_examples:,} labelled tickets "
        f"({metrics['holdout_size']:,} most recent answers judged it).",
    )
    print(f"  {'candidate (held out)':<24}{format_metrics(Metrics(**metrics['holdout']))}")
    if metrics["incumbent_holdout"] is not None:
        name = f"active v{metrics['incumbent_version']} (held out)"
        print(f"  {name:<24}{format_metrics(Metrics(**metrics['incumbent_holdout']))}")
    print(f"  {'candidate (cross-val)':<24}{format_metrics(Metrics(**metrics['cv']))}")
    if version.status == ModelStatus.ACTIVE:
        print(f"Promoted: v{version.id} is now active ({metrics['gate']}).")
    else:
        print(f"Not promoted: v{version.id} is kept as {version.status} ({metrics['gate']}).")


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def format_metrics(metrics: Metrics) -> str:
    """One line: accuracy, macro-F1, calibration error, coverage, precision of the automated."""
    precision = "-" if metrics.auto_precision is None else f"{metrics.auto_precision:.1%}"
    return (
        f"accuracy {metrics.accuracy:.3f}  macro-F1 {metrics.macro_f1:.3f}  "
        f"ECE {metrics.calibration_error:.3f}  coverage {metrics.coverage:.1%}  "
        f"auto precision {precision}"
    )


def classify_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print one result per input text, in input order, as the service would decide now."""
    texts = list(args.texts)
    if args.file is not None:
        texts += read_lines(args.file)
    if not texts:
        raise InvalidInput("Nothing to classify: give TEXT arguments or --file FILE.")
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        model = load_active(session=session)
        policy = current_policy(session=session, settings=settings)
    decided = classify_under_policy(texts, model=model, policy=policy, rng=random.Random(args.seed))
    for text, (result, _) in zip(texts, decided, strict=True):
        print(json.dumps(classification_json(result)) if args.json else format_line(text, result))
    return 0


def read_lines(path: Path) -> list[str]:
    """Non-blank lines of a UTF-8 file."""
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise InvalidInput(f"{path} is not a UTF-8 text file") from None
    return [line.strip() for line in content.splitlines() if line.strip()]


def classification_json(result: Classification) -> dict[str, Any]:
    """The machine-readable form: label, confidence, decision, model version."""
    return {
        "label": result.label,
        "confidence": None if result.confidence is None else round(result.confidence, 4),
        "decision": str(result.decision),
        "model_version": result.model_version,
    }


def format_line(text: str, result: Classification) -> str:
    """A human-readable line; the text is shortened, never the answer."""
    shown = text if len(text) <= 60 else text[:59] + "…"
    if result.label is None:
        return f"review   (no active model)                      {shown}"
    return f"{result.decision!s:<8} {result.label:<34} {result.confidence:6.1%}  {shown}"


def eval_command(args: argparse.Namespace, settings: Settings) -> int:
    """Measure the active model, at its tuned thresholds, on a labelled file."""
    rows, skipped, total = read_labelled_csv(
        args.file, text_column=args.text_column, label_column=args.label_column
    )
    if not rows:
        raise InvalidInput(f"{args.file} has no usable rows ({total} rows read).")
    with open_database(settings) as (_, factory), unit_of_work(factory) as session:
        model = load_active(session=session)
        policy = current_policy(session=session, settings=settings)
    if model is None:
        raise NotFound("There is no active model yet. Run `triage train` first.")
    # The gate in force: the tuned thresholds with the admins' overrides and floor on top.
    thresholds = policy.thresholds_for(model.thresholds)
    metrics = evaluate(model.model, [r.text for r in rows], [r.label for r in rows], thresholds)
    gate = {"threshold": _finite(thresholds.default), "floor": thresholds.floor}
    if args.json:
        print(json.dumps({**metrics.to_dict(), **gate, "model_version": model.version_id}))
        return 0
    print(f"Model v{model.version_id} on {metrics.n:,} rows of {args.file}:")
    print(f"  {format_metrics(metrics)}")
    bar = "never" if gate["threshold"] is None else f"{thresholds.default:.3f}"
    print(
        f"  gate: threshold {bar} (average guarantee)  floor {thresholds.floor:.2f} per ticket  "
        f"unlike anything learned {metrics.novel_rate:.1%} (sent to people)"
    )
    for reason, count in skipped.items():
        print(f"  skipped {count:,}: {reason}")
    return 0

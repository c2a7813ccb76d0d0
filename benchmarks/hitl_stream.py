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

    python -m benchmarks.hitl_stream [DATA_DIR] [--seed 0] [--retrain-every 500] ...

The loop is `benchmarks.hitl_simulation`; the figures, plot and table `benchmarks.hitl_report`.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core per run, so two variants can run side by side

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.hitl_report import markdown, plot, summarise, test_metrics  # noqa: E402
from benchmarks.hitl_simulation import (  # noqa: E402
    build_database,
    parse_warmup,
    read_split,
    run_stream,
    withheld_intents,
)
from benchmarks.hitl_team import (  # noqa: E402
    TeamSimulation,
    parse_team,
    run_team_stream,
    team_report,
)
from bot.settings import Settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "banking77"
RESULTS = REPO_ROOT / "benchmarks" / "results"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line; defaults reproduce the reported run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
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
    parser.add_argument(
        "--new-topic-intents",
        type=int,
        default=0,
        help="withhold this many intents (no label, no ticket) until --new-topic-at",
    )
    parser.add_argument(
        "--label-screening-max",
        type=float,
        default=Settings().label_screening_max,
        help="share of training labels retraining may screen out (0: off); default: the service's",
    )
    parser.add_argument("--new-topic-at", type=int, default=6_000)
    parser.add_argument(
        "--no-unlabelled-bank",
        action="store_true",
        help='intake ignores "none of these" tickets until retraining (the earlier behaviour)',
    )
    add_team_arguments(parser)
    parser.add_argument(
        "--topic-min-tickets",
        type=int,
        default=Settings().topic_min_tickets,
        help="default: the service's TRIAGE_TOPIC_MIN_TICKETS",
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


def add_team_arguments(parser: argparse.ArgumentParser) -> None:
    """The reviewer-team options (benchmarks.hitl_team), apart from the stream's own."""
    parser.add_argument(
        "--team",
        type=parse_team,
        default=None,
        help="six reviewers answering in turn: exact, all2, all5, one20, or six error rates",
    )
    parser.add_argument(
        "--history", type=int, default=0, help="import the first N tickets as labelled history"
    )
    parser.add_argument("--history-error", type=float, default=0.0)
    parser.add_argument(
        "--second-opinion-share",
        type=float,
        default=Settings().second_opinion_share,
        help="default: the service's",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run one variant of the stream and write JSON, PNG and optionally Markdown."""
    args = parse_args(argv)
    logging.getLogger("jobs").setLevel(logging.ERROR)  # alerts are in the JSON instead
    from threadpoolctl import threadpool_limits

    _, gold = read_split(args.data_dir / "train.csv")
    withheld = withheld_intents(gold, args.new_topic_intents, args.seed)
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'hitl.db'}"
        factory = build_database(url, sorted(set(gold) - withheld))
        settings = Settings.from_env({}, dotenv_path=None).with_overrides(
            database_url=url,
            target_precision=args.target,
            audit_rate=args.audit_rate,
            topic_min_tickets=args.topic_min_tickets,
            label_screening_max=args.label_screening_max,
            second_opinion_share=args.second_opinion_share,
        )
        if args.team is None:
            sim, wall = run_stream(factory, settings, args)
        else:
            sim, wall = run_team_stream(factory, settings, args)
        test = test_metrics(factory, args.data_dir)
        result = summarise(sim, args, wall, test)
        if isinstance(sim, TeamSimulation):
            result["team"] = team_report(sim)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(sim, result, args.plot, width=min(500, max(1, len(sim.log.automated))))
    if args.md is not None:
        variants = [json.loads(p.read_text(encoding="utf-8")) for p in args.variants]
        args.md.write_text(markdown(result, variants), encoding="utf-8")
    shown = {k: result[k] for k in ("totals", "targets", "test")}
    if "team" in result:  # the audit share and the powered estimate against true precision
        shown["audit_vs_truth"] = result["team"]["audit_vs_truth"]
    print(json.dumps(shown, indent=2))


if __name__ == "__main__":
    main()

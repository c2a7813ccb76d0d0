"""CPU time per ticket on intake's path, stage by stage, on one core: what a web process spends.

The machine is shared, so wall-clock throughput is noisy; CPU time of this process
(`time.process_time`, BLAS held to one thread as in `triage serve`) much less. Trains on
3,000 Banking77 tickets as `benchmarks.ingest` does and installs the model in a fresh SQLite
database (or copies the one `--model-cache` kept from an earlier run), then feeds Banking77's
test texts through `bot.services.intake_batch.submit_batch` in batches of `--batch` tickets
(each with its own external id), timing each stage separately:

- classify: `classify_under_policy` (masking, lemmas, TF-IDF, embeddings, the linear model,
  novelty, topics, the decision rule);
- write: `write_all` (the tickets and their outbox rows in one transaction, SQLite);
- view: `public_view` and JSON encoding of each ticket (what the API answers);
- submit: the whole `submit_batch` (policy stamp, duplicate look-up, classify, write);
- deliver: what the web process's delivery thread spends on the outbox rows those tickets
  queued (review posts, mostly), sent to a fake Slack in this process: CPU of the
  delivering thread only (`time.thread_time`), per ticket taken in and per message sent.

    python -m benchmarks.intake_cpu [--batch 32] [--tickets 1600] [--repeats 3] [--label NAME]
        [--model-cache /tmp/intake-model.db] [--profile STAGE] [--plain-gc]

The collector is tuned as `triage serve` tunes it (`--plain-gc`: CPython's defaults), and its
pauses during the measured stages are recorded.

Results: benchmarks/results/intake-cpu-NAME.json (milliseconds of CPU per ticket, the best
of `--repeats` passes: the least disturbed by the other sessions' caches).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # as `triage serve` runs the model (bot.cli.serve.one_native_thread)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.ingest import DATA, NOW, RESULTS, install, read_rows  # noqa: E402
from bot.delivery import Deliverer, slack_client  # noqa: E402
from bot.sandbox.slack import FakeSlack  # noqa: E402
from bot.services.intake import classify_under_policy, validate_new_ticket  # noqa: E402
from bot.services.intake_batch import Submission, submit_batch, write_all  # noqa: E402
from bot.services.models import load_active  # noqa: E402
from bot.services.policy_cache import PolicyCache  # noqa: E402
from bot.services.ticket_view import public_view  # noqa: E402
from bot.settings import Settings  # noqa: E402
from classifier import dump_model, train  # noqa: E402
from storage.database import create_db_engine, reading, session_factory  # noqa: E402

try:  # as `triage serve` tunes the collector; absent at commits before that (for comparisons)
    from bot.cli.serve import tune_collector
    from bot.server import settle_heap_after_load
except ImportError:
    tune_collector = settle_heap_after_load = None  # type: ignore[assignment]

STAGES = ("classify", "write", "view", "submit", "deliver")


def prepared_database(path: Path, train_size: int, cache: Path | None) -> None:
    """A SQLite database at `path` holding the 3,000-ticket model of `benchmarks.ingest`
    (same rows, same seed) as the active version; `cache` keeps a copy to start from."""
    if cache is not None and cache.exists():
        shutil.copyfile(cache, path)
        return
    rows = read_rows(DATA / "train.csv")
    random.Random(0).shuffle(rows)
    rows = rows[:train_size]
    fitted = train([t for t, _ in rows], [c for _, c in rows], target_precision=0.95)
    install(f"sqlite:///{path}", fitted, dump_model(fitted.model))
    if cache is not None:
        shutil.copyfile(path, cache)


class CollectorPauses:
    """How often, and how long, the garbage collector stopped this process, by generation."""

    def __init__(self) -> None:
        self.began = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def record(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.began = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(1000 * (time.perf_counter() - self.began))

    def summary(self) -> dict[str, Any]:
        return {
            f"generation_{generation}": {
                "collections": len(pauses),
                "total_ms": round(sum(pauses), 1),
                "max_ms": round(max(pauses, default=0.0), 1),
            }
            for generation, pauses in self.pauses.items()
        }


def cpu_ms_per_ticket(run: Callable[[list[Submission]], Any], batches: list[list[Submission]]):
    """CPU milliseconds per ticket over all batches (this process, every thread)."""
    began = time.process_time()
    for batch in batches:
        run(batch)
    spent = time.process_time() - began
    return 1000 * spent / sum(len(b) for b in batches)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tickets", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--model-cache", type=Path, default=None)
    parser.add_argument("--label", default="latest")
    parser.add_argument("--profile", choices=STAGES, default=None, help="cProfile one stage")
    parser.add_argument(
        "--plain-gc", action="store_true", help="leave the collector as CPython sets it"
    )
    args = parser.parse_args()
    if tune_collector is None:
        args.plain_gc = True
    if not args.plain_gc:  # as `triage serve` runs
        tune_collector()

    texts = [t for t, _ in read_rows(DATA / "test.csv")]
    fake = FakeSlack().__enter__()
    settings = Settings.from_env(
        {
            "TRIAGE_API_TOKEN": "x",
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "cpu-secret",
            "SLACK_API_URL": fake.base_url,
            "TRIAGE_REVIEW_CHANNEL": "CREVIEW",
            "TRIAGE_ALERTS_CHANNEL": "CALERTS",
        },
        dotenv_path=None,
    )
    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.intake_cpu", *sys.argv[1:]]),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": os.getloadavg(),
        "trained_on": args.train,
        "batch": args.batch,
        "tickets": args.tickets,
        "cpu_ms_per_ticket": {},
    }
    with tempfile.TemporaryDirectory(prefix="intake-cpu-") as tmp:
        prepared_database(Path(tmp) / "cpu.db", args.train, args.model_cache)
        url = f"sqlite:///{tmp}/cpu.db"
        engine = create_db_engine(url)
        factory = session_factory(engine)
        with reading(factory) as session:
            model = load_active(session=session)
        assert model is not None
        if not args.plain_gc and settle_heap_after_load is not None:
            settle_heap_after_load(model)
        policies = PolicyCache(settings)
        with reading(factory) as session:
            policy = policies.get(session=session)
        rng = random.Random(0)
        serial = iter(range(10**9))

        def batches() -> list[list[Submission]]:
            picked = [texts[i % len(texts)] for i in range(args.tickets)]
            made = [
                Submission(
                    validate_new_ticket(text=t, source="cpu", external_id=f"t{next(serial)}")
                )
                for t in picked
            ]
            return [made[i : i + args.batch] for i in range(0, len(made), args.batch)]

        def classify(batch: list[Submission]) -> Any:
            return classify_under_policy(
                [s.ticket.text for s in batch], model=model, policy=policy, rng=rng
            )

        def write(batch: list[Submission]) -> Any:
            return write_all(batch, classified[id(batch)], factory=factory, now=NOW)

        def view(batch: list[Submission]) -> Any:
            for answer in written[id(batch)]:
                json.dumps(public_view(answer.ticket)).encode()

        def submit(batch: list[Submission]) -> Any:
            return submit_batch(
                batch, factory=factory, model=model, policies=policies, now=NOW, rng=rng
            )

        deliverer = Deliverer(
            factory, slack_client(settings), settings, now=lambda: NOW, batch=5, policies=policies
        )

        def deliver() -> tuple[float, int]:
            """CPU seconds of this thread delivering everything queued, and messages sent."""
            began = time.thread_time()
            sent = deliverer.run_once()
            return time.thread_time() - began, sent

        classify(batches()[0])  # the first call loads spaCy and WordLlama
        deliver()
        pauses = CollectorPauses()
        gc.callbacks.append(pauses.record)
        best: dict[str, float] = {}
        written: dict[int, Any] = {}
        profiler = cProfile.Profile(time.thread_time)  # CPU of the profiled thread, not wall time
        for _ in range(args.repeats):
            work = batches()
            classified = {id(b): classify(b) for b in work}
            timings = {"classify": cpu_ms_per_ticket(classify, work)}
            written.clear()

            def write_keep(batch: list[Submission]) -> None:
                written[id(batch)] = write(batch)

            timings["write"] = cpu_ms_per_ticket(write_keep, work)
            timings["view"] = cpu_ms_per_ticket(view, work)
            deliver()  # what classify/write queued: not timed
            timings["submit"] = cpu_ms_per_ticket(submit, batches())
            spent, sent = deliver()
            timings["deliver"] = 1000 * spent / args.tickets
            timings["deliver_per_message"] = 1000 * spent / max(sent, 1)
            if args.profile == "deliver":
                for batch in batches():
                    submit(batch)
                profiler.enable()
                deliver()
                profiler.disable()
            for stage, value in timings.items():
                best[stage] = min(best.get(stage, value), value)
            if args.profile and args.profile != "deliver":
                run = {"classify": classify, "write": write, "view": view, "submit": submit}
                again = batches() if args.profile in ("submit", "write") else work
                if args.profile == "write":
                    classified.update({id(b): classify(b) for b in again})
                profiler.enable()
                for batch in again:
                    run[args.profile](batch)
                profiler.disable()
        gc.callbacks.remove(pauses.record)
        engine.dispose()
    fake.__exit__(None, None, None)
    results["collector"] = pauses.summary()
    results["collector"]["as_serve"] = not args.plain_gc
    results["cpu_ms_per_ticket"] = {k: round(v, 4) for k, v in best.items()}
    print(json.dumps(results["cpu_ms_per_ticket"]), file=sys.stderr)
    print(json.dumps(results["collector"]), file=sys.stderr)
    if args.profile:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(35)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"intake-cpu-{args.label}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

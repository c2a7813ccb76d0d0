"""Intake at helpdesk scale: the real `triage serve` beside a bare Starlette + uvicorn endpoint.

Trains one model on 3,000 Banking77 tickets (and, for `rss100k`, one on 100,000 synthetic
tickets: Banking77's training set resampled with light perturbation, see
`synthetic_tickets`), then for each scenario starts a fresh database,
a fresh fake Slack (`bot.sandbox.slack.FakeSlack`, optionally failing a share of calls) and
a fresh `triage serve` child process, and drives it with the client of
`benchmarks.ingest_client` running in its own process (the same client drives the baseline).
Every triage scenario ends by checking that every accepted ticket is stored, every review
message was delivered exactly once, and nothing answered 5xx; a failed check fails the run.

    python -m benchmarks.ingest [--seconds 8] [--scenarios closed32 open200 ...] [--label NAME]
        [--server-env TRIAGE_INTAKE_BATCH_MS=5 ...]
        [--profile DIR]   # triage serve under cProfile in every thread (profile_serve)

Results: benchmarks/results/ingest-NAME.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import multiprocessing
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from benchmarks import ingest_client
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from bot.settings import Settings
from classifier import TrainedModel, dump_model, sha256_hex, train
from storage.database import create_db_engine, session_factory
from storage.migrate import upgrade
from storage.models import ModelStatus, ModelVersion, OutboxMessage, Ticket
from storage.queries.labels import ensure_labels
from storage.queries.model_versions import activate

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "banking77"
RESULTS = REPO / "benchmarks" / "results"
TOKEN = "bench-token"
REVIEW, ALERTS, INTAKE = "CREVIEW", "CALERTS", "CINTAKE"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/intake"
NOW = datetime(2026, 12, 2, tzinfo=UTC)

# name: (target, load, options)
SCENARIOS: dict[str, dict[str, Any]] = {
    "closed32": {"mode": "closed", "connections": 32, "baseline": True},
    "open200": {"mode": "open", "rate": 200, "baseline": True},
    "open500": {"mode": "open", "rate": 500, "baseline": True},
    "flaky200": {"mode": "open", "rate": 200, "flaky": 0.3},
    "flaky_closed32": {"mode": "closed", "connections": 32, "flaky": 0.3},
    "batch": {"mode": "closed", "connections": 4, "batch": 100},
    "batch500": {"mode": "closed", "connections": 2, "batch": 500},
    "rss100k": {"mode": "open", "rate": 200, "train": 100_000},
    "pg_closed32_w1": {"mode": "closed", "connections": 32, "postgres": True, "workers": 1},
    "pg_closed32_w2": {"mode": "closed", "connections": 32, "postgres": True, "workers": 2},
}


def read_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


FILLERS = ("hi, ", "hello, ", "urgent: ", "please help: ", "", "", "", "")
ENDINGS = (" thanks", " thank you!", " asap", "?", ".", "", "", "")


def synthetic_tickets(
    rows: list[tuple[str, str]], count: int, seed: int = 0
) -> list[tuple[str, str]]:
    """`count` labelled tickets resampled from `rows` with light perturbation, so a model can
    be trained at helpdesk scale from Banking77's 10,003: each copy may lose a word, have two
    neighbouring words swapped, change case, and gain a greeting or a sign-off. The labels
    are the originals'; the vocabulary grows a little, as real traffic's does."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text, label = rows[rng.randrange(len(rows))]
        words = text.split()
        if len(words) > 4 and rng.random() < 0.3:
            del words[rng.randrange(len(words))]
        if len(words) > 2 and rng.random() < 0.3:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        perturbed = " ".join(words)
        if rng.random() < 0.2:
            perturbed = perturbed.lower()
        out.append((rng.choice(FILLERS) + perturbed + rng.choice(ENDINGS), label))
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> dict[str, float]:
    """Resident memory of `pid` and each of its descendants, in MB."""
    found: dict[str, float] = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found[str(current)] = round(int(line.split()[1]) / 1024, 1)
        pending.extend(int(child) for child in children)
    return found


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) spent so far by each thread of `pid`, by thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return spent


def children_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) spent so far by each live child process of `pid` (the
    delivery process), by process id."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent: dict[int, float] = {}
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return spent
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[int(child)] = (int(fields[11]) + int(fields[12])) / ticks
    return spent


CpuReading = tuple[dict[int, float], dict[int, float]]  # (thread_cpu, children_cpu)


def cpu_reading(pid: int) -> CpuReading:
    return thread_cpu(pid), children_cpu(pid)


def cpu_per_ticket(pid: int, before: CpuReading, after: CpuReading, tickets: int) -> dict[str, Any]:
    """The server's CPU milliseconds per accepted ticket over a load, from two
    `cpu_reading`s: the web process's threads (all; the main thread, the event loop: HTTP,
    JSON, routing; the others: intake batches, delivery when it runs on a thread) and its
    child processes (delivery, by default). CPU time, unlike throughput, hardly depends on
    what else the shared machine runs."""
    if tickets == 0:
        return {"total": None, "main_thread": None, "other_threads": None}
    threads_after, children_after = after
    spent = {tid: threads_after[tid] - before[0].get(tid, 0.0) for tid in threads_after}
    children = sum(children_after[c] - before[1].get(c, 0.0) for c in children_after)
    main = spent.get(pid, 0.0)
    total = sum(spent.values())
    return {
        "total": round(1000 * total / tickets, 3),
        "main_thread": round(1000 * main / tickets, 3),
        "other_threads": round(1000 * (total - main) / tickets, 3),
        "busiest_threads": [round(1000 * v / tickets, 3) for v in sorted(spent.values())[-5:]],
        "child_processes": round(1000 * children / tickets, 3),
        "with_children": round(1000 * (total + children) / tickets, 3),
    }


def install(url: str, trained: TrainedModel, artifact: bytes) -> None:
    """Migrate and store the model as the active version, as the worker's promotion does."""
    engine = create_db_engine(url)
    upgrade(engine)
    with session_factory(engine).begin() as session:
        ensure_labels([str(c) for c in trained.model.classes_], session=session, now=NOW)
        version = ModelVersion(
            status=ModelStatus.CANDIDATE,
            artifact=artifact,
            sha256=sha256_hex(artifact),
            metrics={"cv": trained.cv_metrics.to_dict(), "novelty": trained.novelty},
            thresholds=trained.thresholds.to_dict(),
            n_examples=trained.n_examples,
            n_answers=0,
            created_at=NOW,
        )
        session.add(version)
        session.flush()
        activate(version, session=session, now=NOW)
    engine.dispose()


@contextmanager
def database(name: str, *, postgres: bool, workdir: Path) -> Iterator[str]:
    """A fresh empty database: a SQLite file, or a schema of its own in PostgreSQL."""
    if not postgres:
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    with postgres_schema(POSTGRES, f"bench_{name}_{os.getpid()}") as url:
        yield url


@contextmanager
def postgres_schema(server: str, name: str) -> Iterator[str]:
    """A schema of its own in PostgreSQL (dropped first if a killed run left it), dropped
    afterwards; yields the URL whose connections use it."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def wait_http(url: str, seconds: float) -> None:
    def up() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return True
        except OSError:
            return False

    wait_until(up, timeout=seconds, what=f"{url} to answer")


@contextmanager
def child(
    command: list[str], env: dict[str, str], health: str
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=REPO)  # noqa: S603
    try:
        wait_http(health, 120)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def load(spec: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Run the client in a process of its own, so it competes with nothing in this one."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(ingest_client.run, spec).result()


def client_spec(
    scenario: dict[str, Any], port: int, path: str, prefix: str, **extra: Any
) -> dict[str, Any]:
    keys = ("mode", "rate", "connections")
    return {
        **{k: scenario[k] for k in keys if k in scenario},
        "host": "127.0.0.1",
        "port": port,
        "path": path,
        "token": TOKEN,
        "prefix": prefix,
        **extra,
    }


def run_baseline(
    name: str, scenario: dict[str, Any], texts: list[str], seconds: float, workdir: Path
) -> dict[str, Any]:
    port, db_path = free_port(), workdir / f"baseline-{name}.db"
    command = [sys.executable, "-m", "benchmarks.ingest_baseline", str(port), str(db_path)]
    with _baseline(command, port) as process:
        before = cpu_reading(process.pid)
        summary, accepted = load(
            client_spec(scenario, port, "/api/tickets", name, texts=texts, seconds=seconds)
        )
        summary["server_cpu_ms_per_ticket"] = cpu_per_ticket(
            process.pid,
            before,
            cpu_reading(process.pid),
            len(accepted),
        )
        summary["rss_mb"] = rss_mb(process.pid)
    with sqlite3.connect(db_path) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM tickets")}
    summary["checks"] = {
        "all_accepted_stored": set(accepted) <= stored,
        "no_5xx": not any(int(s) >= 500 for s in summary["statuses"]),
    }
    return summary


@contextmanager
def _baseline(command: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, cwd=REPO)  # noqa: S603
    try:

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, timeout=30, what="the baseline to listen")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def run_triage(
    name: str,
    scenario: dict[str, Any],
    texts: list[str],
    seconds: float,
    workdir: Path,
    trained: TrainedModel,
    artifact: bytes,
    profile: Path | None = None,
    server_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    postgres = bool(scenario.get("postgres"))
    with database(name, postgres=postgres, workdir=workdir) as url, FakeSlack() as fake:
        install(url, trained, artifact)
        port = free_port()
        settings = Settings.from_env(
            {
                "DATABASE_URL": url,
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": "bench-secret",
                "SLACK_API_URL": fake.base_url,
                "TRIAGE_REVIEW_CHANNEL": REVIEW,
                "TRIAGE_ALERTS_CHANNEL": ALERTS,
                "TRIAGE_INTAKE_CHANNEL": INTAKE,
                "TRIAGE_API_TOKEN": TOKEN,
                "TRIAGE_LOG_LEVEL": "WARNING",
                "PORT": str(port),
                "WEB_CONCURRENCY": str(scenario.get("workers", 1)),
                **(server_env or {}),
            },
            dotenv_path=None,
        )
        command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"]
        if profile is not None:  # the same server under cProfile (benchmarks.profile_serve)
            profile.mkdir(parents=True, exist_ok=True)
            command[1:3] = ["-m", "benchmarks.profile_serve", str(profile / name)]
        with child(command, settings.to_env(), f"http://127.0.0.1:{port}/healthz") as process:
            warmed = warm_up(port, texts)
            fake.set_flaky(float(scenario.get("flaky", 0)), seed=13)
            per_request = int(scenario.get("batch", 1))
            path = "/api/tickets/batch" if per_request > 1 else "/api/tickets"
            spec = client_spec(
                scenario,
                port,
                path,
                name,
                texts=texts,
                seconds=seconds,
                tickets_per_request=per_request,
            )
            before = cpu_reading(process.pid)
            summary, accepted = load(spec)
            if int(scenario.get("workers", 1)) == 1:  # one process: its threads say it all
                summary["server_cpu_ms_per_ticket"] = cpu_per_ticket(
                    process.pid,
                    before,
                    cpu_reading(process.pid),
                    len(accepted),
                )
            summary["rss_mb"] = rss_mb(process.pid)
            summary["checks"] = verify(url, fake, warmed + accepted, summary)
    return summary


def warm_up(port: int, texts: list[str], count: int = 20) -> list[int]:
    """A few tickets one by one before measuring: the model loads on the first request."""
    ids = []
    for i in range(count):
        body = {"text": texts[i], "source": "bench", "external_id": f"warm-{i}"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/tickets",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            ids.append(int(json.loads(response.read())["id"]))
    return ids


def verify(
    url: str, fake: FakeSlack, accepted: list[int], summary: dict[str, Any]
) -> dict[str, Any]:
    """Every accepted ticket stored, every review message delivered exactly once, no 5xx."""
    engine = create_db_engine(url)
    factory = session_factory(engine)

    def undelivered() -> int:
        with factory() as session:
            query = select(func.count()).select_from(OutboxMessage)
            return int(session.scalar(query.where(OutboxMessage.delivered_at.is_(None))) or 0)

    began = time.perf_counter()
    wait_until(lambda: undelivered() == 0, timeout=600, what="the outbox to drain")
    drained = time.perf_counter() - began
    with factory() as session:
        stored = {tid: ts for tid, ts in session.execute(select(Ticket.id, Ticket.slack_ts))}
        posted_tickets = {
            tid
            for tid, decision in session.execute(select(Ticket.id, Ticket.decision))
            if str(decision) in ("review", "audit")
        }
    engine.dispose()
    posts: list[str] = []
    for call in fake.calls_to("chat.postMessage", include_faulty=False):
        message = call.params.get("_json", call.params)
        if call.ok and message.get("channel") == REVIEW and not message.get("thread_ts"):
            posts.append(str(call.response.get("ts")))
    expected = sorted(str(stored[t]) for t in posted_tickets)
    checks = {
        "all_accepted_stored": set(accepted) <= set(stored),
        "one_ticket_per_accepted": len(set(accepted)) == len(stored),
        "review_posts_exactly_once": sorted(posts) == expected,
        "review_tickets": len(posted_tickets),
        "no_5xx": not any(int(s) >= 500 for s in summary["statuses"]),
        "outbox_drained_after_s": round(drained, 1),
    }
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--train", type=int, default=3000, help="Banking77 tickets to train on")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--label", default="latest")
    parser.add_argument(
        "--profile", type=Path, default=None, help="cProfile triage serve, .prof files in DIR"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for `triage serve` (repeatable), e.g. TRIAGE_INTAKE_BATCH_MS=5",
    )
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)

    all_rows = read_rows(DATA / "train.csv")
    rows = list(all_rows)
    random.Random(0).shuffle(rows)
    rows = rows[: args.train]
    texts = [t for t, _ in read_rows(DATA / "test.csv")]
    print(f"training on {len(rows)} tickets", file=sys.stderr)
    trained = train([t for t, _ in rows], [c for _, c in rows], target_precision=0.95)
    models = {args.train: (trained, dump_model(trained.model))}
    train_seconds: dict[int, float] = {}
    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.ingest", *sys.argv[1:]]),
        "server_env": server_env,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "trained_on": len(rows),
        "seconds_per_scenario": args.seconds,
        "scenarios": {},
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        workdir = Path(tmp)
        for name in args.scenarios:
            scenario = SCENARIOS[name]
            entry: dict[str, Any] = {"scenario": scenario}
            if scenario.get("baseline"):
                print(f"{name}: baseline", file=sys.stderr)
                entry["baseline"] = run_baseline(name, scenario, texts, args.seconds, workdir)
            size = int(scenario.get("train", args.train))
            if size not in models:
                print(f"{name}: training on {size:,} synthetic tickets", file=sys.stderr)
                began = time.perf_counter()
                big = synthetic_tickets(all_rows, size)
                fitted = train([t for t, _ in big], [c for _, c in big], target_precision=0.95)
                train_seconds[size] = round(time.perf_counter() - began, 1)
                models[size] = (fitted, dump_model(fitted.model))
            entry["trained_on"] = size
            if size in train_seconds:
                entry["train_seconds"] = train_seconds[size]
                entry["artifact_mb"] = round(len(models[size][1]) / 1e6, 1)
            print(f"{name}: triage serve", file=sys.stderr)
            entry["triage"] = run_triage(
                name,
                scenario,
                texts,
                args.seconds,
                workdir,
                *models[size],
                profile=args.profile,
                server_env=server_env,
            )
            entry["load_average_after"] = os.getloadavg()
            results["scenarios"][name] = entry
            checks = entry["triage"]["checks"]
            ok = all(v for k, v in checks.items() if isinstance(v, bool))
            failed = failed or not ok
            print(json.dumps({name: entry}, indent=1), file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ingest-{args.label}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

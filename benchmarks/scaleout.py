"""Scale-out on one machine: closed-loop intake through `triage serve` on PostgreSQL with
WEB_CONCURRENCY 1 and then 2, in one run, with the same client, model and fake Slack.

Trains one model on 3,000 Banking77 tickets. For each process count it makes a fresh schema,
stores the model as the active version, starts a fresh fake Slack and `triage serve`, loads
the model in every web process, then drives it with `benchmarks.ingest_client` (C keep-alive
connections back to back) in a process of its own. Each run ends by checking that every
accepted ticket is stored, every review message was delivered exactly once (by whichever
web process claimed it), and nothing answered 5xx; a failed check fails the run.

The machine has 2 cores and is shared: the client, PostgreSQL and the fake Slack take CPU
from the web processes, and so does anyone else's work. Each run records the CPU seconds of
each party (from /proc) and the machine's busy time no party here accounts for.

    python -m benchmarks.scaleout [--seconds 20] [--connections 32] [--rounds 3] [--label latest]

The counts alternate (1, 2, 1, 2, ...) and the medians are compared, so others' work falls
on both alike; `tickets_per_serve_cpu_second` is what each count makes of the CPU it got.

Results: benchmarks/results/scaleout-LABEL.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import random
import resource
import signal
import statistics
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

from sqlalchemy import func, select

from benchmarks import ingest_client
from benchmarks.ingest import free_port, install, postgres_schema, read_rows
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from bot.settings import Settings
from classifier import TrainedModel, dump_model, train
from storage.database import create_db_engine, session_factory
from storage.models import OutboxMessage, Ticket

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "banking77"
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOKEN = "bench-token"
REVIEW, ALERTS = "CREVIEW", "CALERTS"
TICK = os.sysconf("SC_CLK_TCK")


# -- CPU accounting from /proc ----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            pending.extend(
                int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()
            )
        except OSError:
            continue
    return found


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_busy_seconds() -> float:
    """CPU time every core spent busy since boot (all of /proc/stat's `cpu` line but idle)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / TICK


def own_cpu_seconds() -> float:
    """This process: the fake Slack's threads and the checks."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds each party used between `start` and `stop`."""

    def __init__(self, serve_pid: int) -> None:
        self.serve_pid = serve_pid

    def _snapshot(self) -> dict[str, Any]:
        return {
            "serve": {p: cpu_seconds(p) for p in descendants(self.serve_pid)},
            "postgres": {p: cpu_seconds(p) for p in postgres_pids()},
            "bench": own_cpu_seconds(),
            "machine": machine_busy_seconds(),
            "wall": time.monotonic(),
        }

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self, client_seconds: float) -> dict[str, float]:
        after, before = self._snapshot(), self._before

        def used(party: str) -> float:
            return sum(v - before[party].get(p, 0.0) for p, v in after[party].items())

        parties = {
            "serve": used("serve"),
            "postgres": used("postgres"),
            "client": client_seconds,
            "fake_slack_and_checks": after["bench"] - before["bench"],
        }
        machine = after["machine"] - before["machine"]
        wall = after["wall"] - before["wall"]
        return {
            **{k: round(v, 1) for k, v in parties.items()},
            "machine_busy": round(machine, 1),
            "unaccounted_others": round(max(0.0, machine - sum(parties.values())), 1),
            "wall": round(wall, 1),
            "cores": float(os.cpu_count() or 1),
        }


# -- the system under test --------------------------------------------------------------------


def post(port: int, body: dict[str, Any]) -> int:
    """One ticket on a connection of its own (the kernel picks the process); its id."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/tickets",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback
        return int(json.loads(response.read())["id"])


def warm_up(port: int, texts: list[str], processes: int, metrics: Path) -> list[int]:
    """Tickets on fresh connections until every web process has answered some: each loads
    the model on its first request, which must not be measured."""
    ids: list[int] = []

    def served() -> int:
        return len({p.stem.rsplit("_", 1)[-1] for p in metrics.glob("counter_*.db")})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        while len(ids) < 16 or (processes > 1 and served() < processes):
            start = len(ids)
            bodies = [
                {"text": texts[i], "source": "bench", "external_id": f"warm-{i}"}
                for i in range(start, start + 16)
            ]
            ids.extend(pool.map(lambda body: post(port, body), bodies))
            assert len(ids) < 2000, "a web process never answered"
    return ids


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=REPO)  # noqa: S603

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                return True
        except OSError:
            return False

    try:
        wait_until(up, timeout=120, what="triage serve to answer")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def client(spec: dict[str, Any]) -> tuple[dict[str, Any], list[int], float]:
    """In the client process: the load, and the CPU seconds the client itself used."""
    began = own_cpu_seconds()
    summary, accepted = ingest_client.run(spec)
    return summary, accepted, own_cpu_seconds() - began


def load(spec: dict[str, Any]) -> tuple[dict[str, Any], list[int], float]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(own_cpu_seconds).result()  # the client process is up before the clock starts
        return pool.submit(client, spec).result()


def rss_mb(pid: int) -> dict[str, float]:
    found = {}
    for current in descendants(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found[str(current)] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            continue
    return found


def verify(url: str, fake: FakeSlack, accepted: list[int], statuses: dict[str, int]) -> dict:
    """Every accepted ticket stored, every review message delivered exactly once, no 5xx."""
    engine = create_db_engine(url)
    factory = session_factory(engine)

    def undelivered() -> int:
        with factory() as session:
            pending = OutboxMessage.delivered_at.is_(None)
            return int(session.scalar(select(func.count()).where(pending)) or 0)

    began = time.perf_counter()
    wait_until(lambda: undelivered() == 0, timeout=600, what="the outbox to drain")
    drained = time.perf_counter() - began
    with factory() as session:
        rows = session.execute(select(Ticket.id, Ticket.decision, Ticket.slack_ts)).all()
    engine.dispose()
    stored = {ticket_id for ticket_id, _, _ in rows}
    expected = sorted(str(ts) for _, decision, ts in rows if str(decision) in ("review", "audit"))
    posts = sorted(
        str(call.response.get("ts"))
        for call in fake.calls_to("chat.postMessage", include_faulty=False)
        if call.ok and call.params.get("channel") == REVIEW and not call.params.get("thread_ts")
    )
    return {
        "all_accepted_stored": set(accepted) <= stored,
        "one_ticket_per_accepted": len(set(accepted)) == len(stored),
        "review_posts_exactly_once": posts == expected,
        "review_tickets": len(expected),
        "no_5xx": not any(int(s) >= 500 for s in statuses),
        "outbox_drained_after_s": round(drained, 1),
    }


def run_one(
    processes: int,
    *,
    server: str,
    trained: TrainedModel,
    artifact: bytes,
    texts: list[str],
    seconds: float,
    connections: int,
    workdir: Path,
) -> dict[str, Any]:
    """One `triage serve` with WEB_CONCURRENCY=`processes`, measured and checked."""
    name = f"scaleout_w{processes}_{os.getpid()}"
    metrics = workdir / f"metrics-w{processes}"
    with postgres_schema(server, name) as url, FakeSlack() as fake:
        install(url, trained, artifact)
        port = free_port()
        env = Settings.from_env(
            {
                "DATABASE_URL": url,
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": "bench-secret",
                "SLACK_API_URL": fake.base_url,
                "TRIAGE_REVIEW_CHANNEL": REVIEW,
                "TRIAGE_ALERTS_CHANNEL": ALERTS,
                "TRIAGE_API_TOKEN": TOKEN,
                "TRIAGE_LOG_LEVEL": "WARNING",
                "PORT": str(port),
                "WEB_CONCURRENCY": str(processes),
                "PROMETHEUS_MULTIPROC_DIR": str(metrics) if processes > 1 else "",
            },
            dotenv_path=None,
        ).to_env()
        with serving(env, port) as process:
            warmed = warm_up(port, texts, processes, metrics)
            spec = {
                "mode": "closed",
                "connections": connections,
                "seconds": seconds,
                "host": "127.0.0.1",
                "port": port,
                "path": "/api/tickets",
                "token": TOKEN,
                "prefix": f"w{processes}",
                "texts": texts,
            }
            meter = CpuMeter(process.pid)
            meter.start()
            summary, accepted, client_cpu = load(spec)
            cpu = summary["cpu_seconds"] = meter.stop(client_cpu)
            summary["serve_cores"] = round(cpu["serve"] / cpu["wall"], 2)
            summary["tickets_per_serve_cpu_second"] = (
                round(summary["tickets_accepted"] / cpu["serve"], 1) if cpu["serve"] else None
            )
            summary["rss_mb"] = rss_mb(process.pid)
            summary["checks"] = verify(url, fake, warmed + accepted, summary["statuses"])
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--train", type=int, default=3000, help="Banking77 tickets to train on")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a PostgreSQL URL")
    parser.add_argument("--rounds", type=int, default=3, help="runs of 1 then 2 processes")
    parser.add_argument("--label", default="latest")
    args = parser.parse_args()

    rows = read_rows(DATA / "train.csv")
    random.Random(0).shuffle(rows)
    rows = rows[: args.train]
    texts = [t for t, _ in read_rows(DATA / "test.csv")]
    print(f"training on {len(rows)} tickets", file=sys.stderr)
    trained = train([t for t, _ in rows], [c for _, c in rows], target_precision=0.95)
    artifact = dump_model(trained.model)
    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.scaleout", *sys.argv[1:]]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "trained_on": len(rows),
        "connections": args.connections,
        "seconds_per_run": args.seconds,
        "runs": [],
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="scaleout-bench-") as tmp:
        # Alternated, so that contention from others' work falls on both counts alike.
        for processes in [1, 2] * args.rounds:
            print(f"WEB_CONCURRENCY={processes}", file=sys.stderr)
            entry = run_one(
                processes,
                server=args.database,
                trained=trained,
                artifact=artifact,
                texts=texts,
                seconds=args.seconds,
                connections=args.connections,
                workdir=Path(tmp),
            )
            entry["web_concurrency"] = processes
            entry["load_average_after"] = os.getloadavg()
            results["runs"].append(entry)
            checks = entry["checks"]
            failed = failed or not all(v for v in checks.values() if isinstance(v, bool))
            print(json.dumps(entry, indent=1), file=sys.stderr)
    for processes in (1, 2):
        mine = [r for r in results["runs"] if r["web_concurrency"] == processes]
        results[f"web_concurrency_{processes}"] = {
            key: statistics.median(r[key] for r in mine)
            for key in ("tickets_per_second", "serve_cores", "tickets_per_serve_cpu_second")
        }
    one, two = (results[f"web_concurrency_{n}"]["tickets_per_second"] for n in (1, 2))
    results["ratio_2_to_1"] = round(two / one, 2) if one else None
    per_cpu = [results[f"web_concurrency_{n}"]["tickets_per_serve_cpu_second"] for n in (1, 2)]
    results["efficiency_2_to_1"] = round(per_cpu[1] / per_cpu[0], 2) if per_cpu[0] else None
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scaleout-{args.label}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"ratio {results['ratio_2_to_1']}; wrote {out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

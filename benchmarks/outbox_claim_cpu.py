"""CPU of one outbox claim on SQLite: one compare-and-set per row (before) against one
``UPDATE ... WHERE id IN (...) RETURNING id`` (``storage.queries.outbox.claim_due``).

Five due rows (the web process's delivery batch) are claimed again and again, each claim
after the previous lease ran out, the two ways alternating; the thread's CPU time
(`time.thread_time`) of each claim's unit of work, median of `--rounds`.

    python -m benchmarks.outbox_claim_cpu [--rounds 400] [--rows 5]

Results: benchmarks/results/outbox-claim-cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from benchmarks.ingest import RESULTS
from storage.database import create_db_engine, session_factory, unit_of_work
from storage.models import Base, OutboxKind, OutboxMessage
from storage.queries.outbox import _claimable, claim_due, enqueue


def row_by_row_claim(
    *, session: Session, now: datetime, lease: timedelta, limit: int
) -> list[OutboxMessage]:
    """`claim_due` as it was at commit 00248b9: one compare-and-set per candidate."""
    candidates = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(_claimable(now))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
        )
    )
    claimed = []
    for message_id in candidates:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, _claimable(now))
            .values(locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(message_id)
    if not claimed:
        return []
    session.expire_all()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(claimed)))
    return sorted(rows, key=lambda m: (m.due_at, m.id))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--rows", type=int, default=5)
    args = parser.parse_args()
    now, lease = datetime(2026, 12, 3, tzinfo=UTC), timedelta(minutes=2)
    spent: dict[str, list[float]] = {"row_by_row": [], "one_update": []}
    ways: dict[str, Any] = {"row_by_row": row_by_row_claim, "one_update": claim_due}
    with tempfile.TemporaryDirectory(prefix="claim-cpu-") as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/claim.db")
        Base.metadata.create_all(engine)
        factory = session_factory(engine)
        with unit_of_work(factory) as session:
            for _ in range(args.rows):
                enqueue(OutboxKind.ALERT, session=session, now=now)
        step = 0
        for round_ in range(args.rounds):
            names = list(ways) if round_ % 2 == 0 else list(reversed(ways))
            for name in names:
                step += 1
                at = now + step * 3 * lease  # every earlier lease has run out
                began = time.thread_time()
                with unit_of_work(factory) as session:
                    got = ways[name](session=session, now=at, lease=lease, limit=args.rows)
                spent[name].append(time.thread_time() - began)
                assert len(got) == args.rows
        engine.dispose()
    medians = {k: round(1000 * sorted(v)[len(v) // 2], 3) for k, v in spent.items()}
    results = {
        "command": " ".join(["python -m benchmarks.outbox_claim_cpu", *sys.argv[1:]]),
        "rows_per_claim": args.rows,
        "rounds": args.rounds,
        "median_cpu_ms_per_claim": medians,
    }
    print(json.dumps(medians), file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "outbox-claim-cpu.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

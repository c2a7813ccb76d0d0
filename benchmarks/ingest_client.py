"""The load client of `benchmarks.ingest`: open loop (a fixed schedule) and closed loop.

A minimal HTTP/1.1 keep-alive client on asyncio streams, so the client costs little CPU on
a 2-core machine and measures the server rather than itself. It runs in its own process,
started by `benchmarks.ingest`, and is the same client for the bare baseline and for
`triage serve`.

Open loop: request i is due at start + i / rate whatever happened before; its latency is
counted from that scheduled moment, so queueing in the client (no free connection) or in
the server shows up instead of slowing the sender down (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_OPEN_CONNECTIONS = 256
TIMEOUT_SECONDS = 180.0


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        """POST `body` as JSON; reconnect once if the server closed the idle connection."""
        for attempt in (1, 2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            try:
                return await self._exchange(path, body, token)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        await self._writer.drain()
        raw = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        payload = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


@dataclass
class Outcome:
    """What a run saw: statuses, latencies in ms, and the ticket ids the server accepted."""

    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)
    failures: int = 0  # connection errors and timeouts

    def record(self, status: int, payload: bytes, latency: float) -> None:
        self.statuses[status] += 1
        self.latencies.append(latency * 1000)
        if status in (200, 201):
            body = json.loads(payload)
            if isinstance(body, dict) and "results" in body:  # the batch endpoint
                self.accepted.extend(
                    r["ticket"]["id"] for r in body["results"] if r["status"] in (200, 201)
                )
            else:
                self.accepted.append(int(body["id"]))

    def summary(self, tickets_per_request: int = 1) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

        requests = sum(self.statuses.values())
        return {
            "seconds": round(self.seconds, 2),
            "requests": requests,
            "tickets_accepted": len(self.accepted),
            "tickets_per_second": round(len(self.accepted) / self.seconds, 1)
            if self.seconds
            else None,
            "requests_per_second": round(requests / self.seconds, 1) if self.seconds else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "connection_failures": self.failures,
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": pct(100)},
            "tickets_per_request": tickets_per_request,
        }


Body = Callable[[int], bytes]


async def open_loop(
    host: str, port: int, path: str, token: str, body: Body, *, rate: float, seconds: float
) -> Outcome:
    """Send `rate` requests a second for `seconds`, each on schedule, latency from schedule."""
    outcome = Outcome()
    idle: list[Connection] = []
    slots = asyncio.Semaphore(MAX_OPEN_CONNECTIONS)
    start = time.perf_counter() + 0.05
    total = int(rate * seconds)

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        async with slots:
            connection = idle.pop() if idle else Connection(host, port)
            try:
                status, payload = await asyncio.wait_for(
                    connection.request(path, body(i), token), TIMEOUT_SECONDS
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                outcome.failures += 1
                connection.close()
                return
            outcome.record(status, payload, time.perf_counter() - due)
            idle.append(connection)

    await asyncio.gather(*(one(i) for i in range(total)))
    outcome.seconds = time.perf_counter() - start
    for connection in idle:
        connection.close()
    return outcome


async def closed_loop(
    host: str, port: int, path: str, token: str, body: Body, *, connections: int, seconds: float
) -> Outcome:
    """`connections` clients each sending the next request as soon as the last is answered."""
    outcome = Outcome()
    counter = iter(range(10**9))
    start = time.perf_counter()
    stop = start + seconds

    async def client() -> None:
        connection = Connection(host, port)
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                status, payload = await asyncio.wait_for(
                    connection.request(path, body(next(counter)), token), TIMEOUT_SECONDS
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                outcome.failures += 1
                connection.close()
                continue
            outcome.record(status, payload, time.perf_counter() - began)
        connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    outcome.seconds = time.perf_counter() - start
    return outcome


def run(spec: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Entry point in the client process: run one load `spec`, return summary and accepted ids."""
    texts: list[str] = spec["texts"]
    prefix, per_request = spec["prefix"], spec.get("tickets_per_request", 1)

    def ticket(i: int) -> dict[str, Any]:
        return {"text": texts[i % len(texts)], "source": "bench", "external_id": f"{prefix}-{i}"}

    def body(i: int) -> bytes:
        if per_request == 1:
            return json.dumps(ticket(i)).encode()
        first = i * per_request
        return json.dumps({"tickets": [ticket(first + k) for k in range(per_request)]}).encode()

    common = (spec["host"], spec["port"], spec["path"], spec["token"], body)
    if spec["mode"] == "open":
        outcome = asyncio.run(open_loop(*common, rate=spec["rate"], seconds=spec["seconds"]))
    else:
        outcome = asyncio.run(
            closed_loop(*common, connections=spec["connections"], seconds=spec["seconds"])
        )
    return outcome.summary(per_request), outcome.accepted

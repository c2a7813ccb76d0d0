"""Micro-batched intake for one web process: requests arriving together are taken in together.

Every ticket a web process receives (an API request, an intake-channel message, a batch
request's tickets) is queued here. One task takes what is queued, waits a little for more
(up to `max_size` tickets), and hands the batch to one worker thread: one classifier call
and one write transaction for all of them. While that thread works, new tickets queue up
and form the next batch, so under load batches grow by themselves and the process has one
database writer, never a crowd of threads taking turns at SQLite's write lock. Each caller
awaits the answer for its own tickets only.

How long a batch waits for company is the one trade-off here. A one-ticket batch costs
several times a ticket's share of a larger one (a transaction, a classifier call), so at
a steady 200 tickets/s waiting up to `max_wait` (10 ms by default) saves a fifth of the
CPU. But when tickets come in bursts, as when 32 clients each wait for their answer
before sending again, every ticket that will come has come once the burst is over, and
waiting out the window only leaves the process idle: 1,074 tickets/s with the full window
against 1,495 with 2 ms in that closed loop. So a batch closes at whichever comes first:
`max_size` tickets, `max_wait` after its oldest ticket arrived (a ticket that queued
while the previous batch was written has had its wait), or a quiet spell with no new
ticket, twice the recent mean gap between tickets (`ArrivalGaps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.services.intake_batch import Answer, Submission

log = logging.getLogger(__name__)

Process = Callable[[Sequence[Submission]], list[Answer]]


QUIET_GAPS = 2.0  # a batch closes after this many mean gaps with no new ticket
QUIET_FLOOR = 0.1  # ... but never sooner than this share of `max_wait` after the last one
GAP_WEIGHT = 0.25  # weight of the newest gap in the running mean


@dataclass
class _Waiting:
    submissions: Sequence[Submission]
    answer: asyncio.Future[list[Answer]]
    arrived: float  # the event loop's clock


class ArrivalGaps:
    """The recent mean gap between submissions, each gap counted up to `longest`.

    An exponentially weighted mean, so it follows a change of pace within a few tickets;
    capping each gap keeps one idle minute from making the next burst wait out the window.
    Before a second submission there is no gap to go by, and `quiet` is the whole window.
    """

    def __init__(self, longest: float) -> None:
        self._longest = longest
        self._mean: float | None = None
        self._last: float | None = None

    def arrived(self, at: float) -> None:
        if self._last is not None:
            gap = min(max(at - self._last, 0.0), self._longest)
            self._mean = gap if self._mean is None else self._mean + GAP_WEIGHT * (gap - self._mean)
        self._last = at

    def quiet(self) -> float:
        """How long without a new ticket means the burst is over."""
        if self._mean is None:
            return self._longest
        return min(self._longest, max(QUIET_GAPS * self._mean, QUIET_FLOOR * self._longest))


class IntakeBatcher:
    """Gathers submissions for a few milliseconds and runs them through `process` at once."""

    def __init__(self, process: Process, *, max_size: int = 64, max_wait: float = 0.010) -> None:
        self._process, self._max_size, self._max_wait = process, max_size, max_wait
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._task: asyncio.Task[None] | None = None
        self._gaps = ArrivalGaps(max_wait)
        self.batches = 0  # batches run so far, for tests and metrics
        self.busy = False  # a batch is being classified and written now

    async def submit(self, submissions: Sequence[Submission]) -> list[Answer]:
        """The answers for `submissions`, in order, once the batch holding them is written."""
        if not submissions:
            return []
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run(self._queue))
        loop = asyncio.get_running_loop()
        waiting = _Waiting(submissions, loop.create_future(), arrived=loop.time())
        self._gaps.arrived(waiting.arrived)
        self._queue.put_nowait(waiting)
        return await asyncio.shield(waiting.answer)  # a client leaving does not cancel a batch

    async def stop(self) -> None:
        """Finish nothing new; wait for the batch being written (server shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def pending(self) -> int:
        """Tickets queued and not yet in a batch."""
        return 0 if self._queue is None else self._queue.qsize()

    async def _run(self, queue: asyncio.Queue[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await queue.get()]
            size = len(group[0].submissions)
            deadline = group[0].arrived + self._max_wait
            while size < self._max_size:
                try:
                    if queue.empty():
                        until = min(deadline, group[-1].arrived + self._gaps.quiet())
                        remaining = until - loop.time()
                        if remaining <= 0:
                            break
                        more = await asyncio.wait_for(queue.get(), remaining)
                    else:
                        more = queue.get_nowait()
                except TimeoutError:
                    break
                group.append(more)
                size += len(more.submissions)
            await self._run_batch(group)

    async def _run_batch(self, group: list[_Waiting]) -> None:
        submissions = [s for waiting in group for s in waiting.submissions]
        self.busy = True
        try:
            answers = await asyncio.to_thread(self._process, submissions)
        except Exception as error:  # noqa: BLE001 - every caller of the batch hears of it
            log.warning("intake batch failed", extra={"tickets": len(submissions)})
            answers = [error] * len(submissions)
        finally:
            self.busy = False
            self.batches += 1
        start = 0
        for waiting in group:
            end = start + len(waiting.submissions)
            if not waiting.answer.done():
                waiting.answer.set_result(answers[start:end])
            start = end

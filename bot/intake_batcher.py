"""Micro-batched intake for one web process: requests arriving together are taken in together.

Every ticket a web process receives (an API request, an intake-channel message, a batch
request's tickets) is queued here. One task takes what is queued, waits up to
`max_wait` seconds for more (up to `max_size` tickets), and hands the batch to one worker
thread: one classifier call and one write transaction for all of them. While that thread
works, new tickets queue up and form the next batch, so under load batches grow by
themselves and the process has one database writer, never a crowd of threads taking turns
at SQLite's write lock. Each caller awaits the answer for its own tickets only.
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


@dataclass
class _Waiting:
    submissions: Sequence[Submission]
    answer: asyncio.Future[list[Answer]]


class IntakeBatcher:
    """Gathers submissions for a few milliseconds and runs them through `process` at once."""

    def __init__(self, process: Process, *, max_size: int = 64, max_wait: float = 0.002) -> None:
        self._process, self._max_size, self._max_wait = process, max_size, max_wait
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # batches run so far, for tests and metrics
        self.busy = False  # a batch is being classified and written now

    async def submit(self, submissions: Sequence[Submission]) -> list[Answer]:
        """The answers for `submissions`, in order, once the batch holding them is written."""
        if not submissions:
            return []
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run(self._queue))
        waiting = _Waiting(submissions, asyncio.get_running_loop().create_future())
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
            deadline = loop.time() + self._max_wait
            while size < self._max_size:
                try:
                    if queue.empty():
                        remaining = deadline - loop.time()
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

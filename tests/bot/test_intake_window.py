"""When a batch of intake closes: full, its oldest ticket's window spent, or its burst over.

The batcher runs here on a plain event loop with a recording `process`: the rules are about
which tickets share a batch, not about the database. Windows are seconds long so that the
rule under test, not the machine's speed, decides each outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from bot.intake_batcher import ArrivalGaps, IntakeBatcher
from bot.services.intake import NewTicket
from bot.services.intake_batch import Answer, Submission


class Recorder:
    """A `process` that answers each submission with its position and keeps the batches."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.batches: list[int] = []
        self._seconds = seconds

    def __call__(self, submissions: Sequence[Submission]) -> list[Answer]:
        time.sleep(self._seconds)  # the worker thread's write, for the queue to grow behind
        self.batches.append(len(submissions))
        return [ValueError(str(i)) for i in range(len(submissions))]


def submission(n: int) -> Submission:
    return Submission(NewTicket(text=f"ticket {n}", external_id=str(n)))


def test_a_burst_closes_its_batch_once_it_is_over_not_when_the_window_ends() -> None:
    async def scenario() -> float:
        batcher = IntakeBatcher(recorder, max_size=64, max_wait=3.0)
        start = time.monotonic()
        await asyncio.gather(*(batcher.submit([submission(n)]) for n in range(5)))
        return time.monotonic() - start

    recorder = Recorder()
    elapsed = asyncio.run(scenario())
    assert recorder.batches == [5]
    assert elapsed < 1.5  # the quiet floor (0.3 s here), far from the 3 s window


def test_tickets_a_steady_gap_apart_share_the_window() -> None:
    async def scenario() -> None:
        batcher = IntakeBatcher(recorder, max_size=64, max_wait=2.0)
        sends = []
        for n in range(3):
            sends.append(asyncio.ensure_future(batcher.submit([submission(n)])))
            await asyncio.sleep(0.25)
        await asyncio.gather(*sends)

    recorder = Recorder()
    asyncio.run(scenario())
    assert recorder.batches == [3]  # 0.25 s apart, each within twice the mean gap


def test_tickets_that_queued_behind_a_batch_go_without_waiting_again() -> None:
    async def scenario() -> float:
        batcher = IntakeBatcher(recorder, max_size=64, max_wait=1.0)
        first = asyncio.ensure_future(batcher.submit([submission(0)]))
        await asyncio.sleep(1.2)  # the first batch is in the worker, 1.5 s long
        behind = [asyncio.ensure_future(batcher.submit([submission(n)])) for n in (1, 2)]
        await first
        written = time.monotonic()
        await asyncio.gather(*behind)
        return time.monotonic() - written

    recorder = Recorder(seconds=1.5)
    after_first = asyncio.run(scenario())
    assert recorder.batches == [1, 2]
    assert after_first < 1.5 + 0.6  # their own write, not a fresh 1 s window before it


def test_a_full_batch_goes_at_once_and_the_rest_form_the_next() -> None:
    async def scenario() -> None:
        batcher = IntakeBatcher(recorder, max_size=4, max_wait=0.5)
        await asyncio.gather(*(batcher.submit([submission(n)]) for n in range(6)))

    recorder = Recorder()
    asyncio.run(scenario())
    assert recorder.batches == [4, 2]


@pytest.mark.parametrize(
    ("gaps", "quiet"),
    [
        ([], 1.0),  # nothing to go by: the whole window
        ([0.0, 0.0, 0.0], 0.1),  # a burst: the floor
        ([0.2, 0.2, 0.2], 0.4),  # a steady pace: two gaps
        ([0.2, 60.0], 0.8),  # an idle minute counts as one window (1.0), not sixty
    ],
)
def test_the_quiet_spell_follows_the_pace_of_arrivals(gaps: list[float], quiet: float) -> None:
    estimate, at = ArrivalGaps(longest=1.0), 0.0
    estimate.arrived(at)
    for gap in gaps:
        at += gap
        estimate.arrived(at)
    assert estimate.quiet() == pytest.approx(quiet)

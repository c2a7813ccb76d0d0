"""The one way to wait in tests and on the fake Slack: on a condition, with a deadline, never
a fixed sleep."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.05


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    lock: threading.Condition | None = None,
    describe: Callable[[], str] | None = None,
) -> T:
    """Return the first truthy value of `condition()`, or fail naming `what` after `timeout`.

    With `lock`, the condition is checked while holding it and re-checked whenever the lock
    is notified (at the latest every POLL_SECONDS); without, it is polled every POLL_SECONDS.
    `describe` adds what was seen to the failure message.
    """
    deadline = time.monotonic() + timeout
    with lock if lock is not None else contextlib.nullcontext():
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = f"; {describe()}" if describe is not None else ""
                raise AssertionError(f"timed out after {timeout}s waiting for {what}{seen}")
            if lock is not None:
                lock.wait(min(remaining, POLL_SECONDS))
            else:
                time.sleep(min(remaining, POLL_SECONDS))

"""A role that exactly one of a `triage serve`'s web processes takes: Socket Mode.

The processes of one `triage serve` (WEB_CONCURRENCY > 1) share a directory made by their
parent. The role goes to whichever process holds an exclusive `flock` on a file there; the
others try again every few seconds. The kernel drops the lock when its holder exits, however
it exits, so after a crash a sibling (or the crashed one's replacement) takes the role over
within one try, and there is no stale lock to clean up and no database row to expire.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


class FileLock:
    """An exclusive, non-blocking `flock` on `path`; the holder writes its pid in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; True while this process holds it."""
        if self._file is not None:
            return True
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


async def run_while_holding(
    lock: FileLock,
    role: str,
    run: Callable[[], Awaitable[None]],
    *,
    retry_seconds: float = RETRY_SECONDS,
) -> None:
    """Wait until this process holds `lock`, then run `run` until cancelled; release after."""
    try:
        while not lock.try_acquire():
            await asyncio.sleep(retry_seconds)
        log.info("took a single-process role", extra={"role": role, "pid": os.getpid()})
        await run()
    finally:
        lock.release()

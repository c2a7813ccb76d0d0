"""Outbox delivery for `triage serve`, in a child process of each web process.

Why a process and not a thread: delivery is CPU work (drawing cards, the ORM, the Slack
client), and a thread shares the web process's one GIL with intake. Under 32 connections
back to back the delivery thread took 0.47-0.66 of the 1.16-1.55 ms of CPU a ticket cost,
all on that GIL; at 500 tickets/s the p99 was 67-78 ms with delivery on a thread and 46-53
ms with it in a process of its own (BENCHMARKS.md). A child has its own interpreter and
runs at a lower priority, so on a busy machine the kernel gives intake the CPU first, and
a slow, failing or rate-limiting Slack touches nothing intake uses.

The parent holds the write end of a pipe; the child holds the read end. A byte means
"something was queued"; end of file means "stop": the parent closed it on shutdown, or died,
however it died. So a child never outlives its web process, and it ignores the SIGTERM and
SIGINT a platform or a terminal sends the whole process group: it finishes the pass in hand
(sends are never cut between Slack's answer and the outbox's record of it) and exits when its
parent lets go. The parent starts a new child if one dies.

The child's Slack calls are counted where the web process's `/metrics` reads them: with
WEB_CONCURRENCY > 1 in the shared multiprocess files (the child inherits their directory);
with one process, the child sends its counters' increments after each pass over a second
pipe, and the parent adds them to its own (`bot.metrics.relay`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from bot.metrics.process import ProcessMetrics
from bot.metrics.relay import CounterIncrements, add_increments
from bot.settings import Settings

log = logging.getLogger(__name__)

NICENESS = 5  # below the web process: intake's CPU comes first when cores are short
POLL_SECONDS = 2.0  # retries that came due are looked for this often when nothing wakes
GATHER_SECONDS = 0.05  # after a wake-up, posts queued this soon after go in the same pass
RESTART_PAUSE_SECONDS = 1.0  # a child that keeps dying is started again at most this often
STOP_SECONDS = 15.0  # how long a stopping child may take to finish its pass


class DeliveryProcess:
    """The web process's side: starts the child, wakes it, restarts it, stops it."""

    def __init__(self, settings: Settings, metrics: ProcessMetrics) -> None:
        self._settings, self._metrics = settings, metrics
        self._lock = threading.Lock()  # wake() comes from the event loop and from threads
        self._child: subprocess.Popen[bytes] | None = None
        self._wake_fd: int | None = None
        self._started_at = 0.0
        self._stopping = False

    def start(self) -> None:
        with self._lock:
            self._spawn()

    def wake(self) -> None:
        """Something was queued: deliver soon. Never blocks (a full pipe already says so)."""
        with self._lock:
            if self._stopping:
                return
            if self._child is None or self._child.poll() is not None:
                self._restart()
            if self._wake_fd is None:
                return
            # A full pipe already holds a wake-up; a broken one means the child is gone.
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(self._wake_fd, b"\0")

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Let the child finish its pass and exit (rows not sent stay in the outbox)."""
        with self._lock:
            self._stopping = True
            self._close_pipe()
            child = self._child
        if child is None:
            return
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("delivery process did not stop in time; killed", extra={"pid": child.pid})
            child.kill()
            child.wait()

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    def _restart(self) -> None:
        if time.monotonic() - self._started_at < RESTART_PAUSE_SECONDS:
            return  # the next wake (or poll) tries again
        status = None if self._child is None else self._child.returncode
        log.warning("delivery process exited; starting another", extra={"status": status})
        self._close_pipe()
        self._spawn()

    def _spawn(self) -> None:
        wake_read, wake_write = os.pipe()
        counts_read, counts_write = os.pipe()
        os.set_blocking(wake_write, False)
        environment = {**os.environ, **self._settings.to_env()}
        try:
            self._child = subprocess.Popen(  # noqa: S603 - this interpreter, this module
                [sys.executable, "-m", "bot.delivery_process", str(wake_read), str(counts_write)],
                env=environment,
                pass_fds=(wake_read, counts_write),
            )
        finally:
            os.close(wake_read)
            os.close(counts_write)
        self._wake_fd, self._started_at = wake_write, time.monotonic()
        log.info("delivery process started", extra={"pid": self._child.pid})
        reader = threading.Thread(
            target=self._read_counts, args=(counts_read,), name="delivery-counts", daemon=True
        )
        reader.start()
        os.write(wake_write, b"\0")  # whatever was queued before it started

    def _close_pipe(self) -> None:
        if self._wake_fd is not None:
            os.close(self._wake_fd)
            self._wake_fd = None

    def _read_counts(self, descriptor: int) -> None:
        """Add the child's counts to this process's, until the child closes its end."""
        with os.fdopen(descriptor, "rb") as stream:
            for line in stream:
                try:
                    add_increments(self._metrics, json.loads(line))
                except (ValueError, TypeError, KeyError):
                    log.warning("unreadable counts from the delivery process")


def deliver_until_told(
    run_pass: Callable[[], tuple[int, int]],
    wake_fd: int,
    *,
    after_pass: Callable[[], None],
    poll: float = POLL_SECONDS,
    gather: float = GATHER_SECONDS,
) -> None:
    """Deliver whenever woken, and every `poll` seconds, until the wake pipe closes.

    After a wake-up it waits `gather` seconds before claiming, so the posts queued by the
    batches of that moment share a pass: a pass's claim, reads and write cost the same for
    one row as for twenty, and intake wakes it once per batch."""
    os.set_blocking(wake_fd, False)
    listening = True
    while listening:
        readable, _, _ = select.select([wake_fd], [], [], poll)
        if readable:
            time.sleep(gather)
            listening = _drain(wake_fd)
        try:
            while True:
                claimed, _sent = run_pass()
                after_pass()
                if not claimed:
                    break
        except Exception:  # noqa: BLE001 - keep delivering; the rows stay in the outbox
            log.exception("delivery round failed")
            time.sleep(1.0)


def _drain(wake_fd: int) -> bool:
    """Read every wake-up waiting; False once the pipe is closed (the parent stopped, or is
    gone): the round in hand is the last."""
    while True:
        try:
            if not os.read(wake_fd, 4096):
                return False
        except BlockingIOError:
            return True


def main(argv: list[str]) -> int:
    """The child: `python -m bot.delivery_process WAKE_FD COUNTS_FD`, settings from the
    environment its parent gave it."""
    # Imported here: the parent only needs the class above, not the delivery stack.
    from bot.clock import utc_now
    from bot.delivery import Deliverer, slack_client
    from bot.logs import configure_logging
    from storage.database import create_db_engine, session_factory

    wake_fd, counts_fd = int(argv[0]), int(argv[1])
    for name in (signal.SIGTERM, signal.SIGINT):
        signal.signal(name, signal.SIG_IGN)  # the parent says when, by closing the pipe
    os.nice(NICENESS)
    settings = Settings.from_env(dotenv_path=None)
    configure_logging(settings.log_level)
    metrics = ProcessMetrics()
    relay = None if settings.prometheus_multiproc_dir else CounterIncrements(metrics)
    engine = create_db_engine(settings.database_url)
    deliverer = Deliverer(
        session_factory(engine),
        slack_client(settings, metrics=metrics),
        settings,
        now=utc_now,
    )
    with os.fdopen(counts_fd, "w") as counts:

        def after_pass() -> None:
            increments = None if relay is None else relay.since_last()
            if increments:
                counts.write(json.dumps(increments) + "\n")
                counts.flush()

        try:
            deliver_until_told(deliverer.run_pass, wake_fd, after_pass=after_pass)
        except BrokenPipeError:
            pass  # the parent is gone: nothing is left to count for
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

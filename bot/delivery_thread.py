"""Outbox delivery on a thread of the web process (TRIAGE_WEB_DELIVERY=thread), giving way
to intake.

Review posts should reach Slack seconds after a ticket arrives, and a deployment may run no
worker, so the web process delivers what its requests queued. By default a child process
does it (`bot.delivery_process`); this thread is the choice for a container too small for a
second process, at the cost of sharing the web process's GIL with intake. It keeps a slow,
failing or rate-limiting Slack away from intake as far as a thread can: never on the event
loop or the threads intake's batches run on, with its own Slack client, a few rows per pass,
and before each pass it waits while intake has a batch in hand or queued (up to `max_defer`
seconds, so delivery is never starved for good). Retries wait in the outbox (`due_at`), not
in this thread, except the one Retry-After pause the Slack client itself honours, which
holds up only this thread. The worker's delivery job stays the backstop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.delivery import Deliverer

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # retries that came due are looked for this often when nothing wakes us
MAX_DEFER_SECONDS = 0.25  # longest a pass waits for intake to finish what it has
YIELD_STEP_SECONDS = 0.002


class DeliveryThread:
    """Delivers when woken and every `poll` seconds; yields to intake before each pass."""

    def __init__(
        self,
        deliverer: Deliverer,
        *,
        intake_busy: Callable[[], bool],
        poll: float = POLL_SECONDS,
        max_defer: float = MAX_DEFER_SECONDS,
    ) -> None:
        self._deliverer, self._intake_busy = deliverer, intake_busy
        self._poll, self._max_defer = poll, max_defer
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Something was queued: deliver soon. Safe from any thread or the event loop."""
        self._woken.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the send in flight, then stop (rows not sent stay in the outbox)."""
        self._stopping.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._woken.wait(self._poll)
            self._woken.clear()
            try:
                while not self._stopping.is_set():
                    self._give_way()
                    claimed, _sent = self._deliverer.run_pass()
                    if claimed == 0:
                        break
            except Exception:  # noqa: BLE001 - keep delivering; the rows stay in the outbox
                log.exception("delivery round failed")
                self._stopping.wait(1.0)

    def _give_way(self) -> None:
        """Wait while intake is working, up to `max_defer`: its latency comes first."""
        deadline = time.monotonic() + self._max_defer
        while self._intake_busy() and time.monotonic() < deadline:
            if self._stopping.wait(YIELD_STEP_SECONDS):
                return

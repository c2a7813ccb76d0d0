"""The policy a web process decides tickets under, read again only when it may have changed.

Reading the policy means the runtime settings, every label, the open topics' centroids and
an aggregate over their tickets: too much to repeat for every ticket. A process keeps what
it read with the database's `policy_stamp` at that moment and checks the stamp (one small
query) once per intake batch, so an admin's change applies from the next batch formed after
it committed, in every process, and nothing is remembered that the database does not say.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session

from bot.services.policy import Policy, current_policy
from bot.settings import Settings
from storage.queries.runtime_settings import policy_stamp


class PolicyCache:
    """The last policy read and the stamp it was read at; thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._policy: Policy | None = None
        self.reads = 0  # how many times the policy itself was read (tests and metrics)

    def get(self, *, session: Session) -> Policy:
        """The policy in force now: the cached one unless the stamp moved since."""
        stamp = policy_stamp(session=session)
        with self._lock:
            if self._policy is None or stamp != self._stamp:
                self._policy = current_policy(session=session, settings=self._settings)
                self._stamp = stamp
                self.reads += 1
            return self._policy

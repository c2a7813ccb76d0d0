"""The model a long-running process predicts with, switched when another process promotes one.

Each process checks the active version id (one cheap query) at most every `refresh_after`
seconds and loads new bytes only when it changed, so a promotion reaches every web process
within that interval without a restart, and requests never wait on a reload they do not need.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from bot.services.models import LoadedModel, load_version
from storage.database import unit_of_work
from storage.queries.model_versions import active_version_id, version_by_id


class ModelCache:
    """Holds the loaded active model for one process; thread-safe."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        refresh_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_load: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        """`on_load(model)` runs after each model loaded, outside any transaction (the web
        process settles its heap then)."""
        self._factory, self._refresh_after, self._clock = factory, refresh_after, clock
        self._on_load = on_load
        self._lock = threading.Lock()
        self._loaded: LoadedModel | None = None
        self._checked_at: float | None = None

    def get(self) -> LoadedModel | None:
        """The active model, re-checked against the database when the interval has passed."""
        with self._lock:
            now = self._clock()
            if self._checked_at is not None and now - self._checked_at < self._refresh_after:
                return self._loaded
            with unit_of_work(self._factory) as session:
                current = active_version_id(session=session)
                loaded = self._loaded
                if current is None:
                    self._loaded = None
                elif loaded is None or loaded.version_id != current:
                    version = version_by_id(current, session=session)
                    self._loaded = None if version is None else load_version(version)
            if self._loaded is not None and self._loaded is not loaded and self._on_load:
                self._on_load(self._loaded)
            self._checked_at = now
            return self._loaded

    def invalidate(self) -> None:
        """Check the database on the next `get` (after this process promoted or rolled back)."""
        with self._lock:
            self._checked_at = None

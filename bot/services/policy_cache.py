"""The policy a web process decides tickets under, read again only when it may have changed.

Reading the policy means the runtime settings, every label, the open topics' centroids and
an aggregate over their tickets: too much to repeat for every ticket. A process keeps what
it read with the database's `policy_stamp` at that moment and checks the stamp (one small
query) once per intake batch, so an admin's change applies from the next batch formed after
it committed, in every process, and nothing is remembered that the database does not say.

The cache also holds the embeddings of the tickets people answered "none of these", and of
those given a label created from a topic that no model has learned yet (`Policy.unlabelled`):
a new kind of ticket reaches people from its first such answer on, long before enough of
them cluster into a topic, and until a model knows its label. Each text is embedded once per process
(kept by ticket id); a re-read embeds only the answers given since.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from bot.services.models import NO_LABEL_MAX
from bot.services.policy import Policy, current_policy
from bot.settings import Settings
from classifier import embed
from storage.queries.runtime_settings import policy_stamp
from storage.queries.topics import unlearned_tickets


class PolicyCache:
    """The last policy read and the stamp it was read at; thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._policy: Policy | None = None
        self._vectors: dict[int, np.ndarray] = {}  # "none of these" ticket id -> embedding
        self.reads = 0  # how many times the policy itself was read (tests and metrics)

    def get(self, *, session: Session) -> Policy:
        """The policy in force now: the cached one unless the stamp moved since."""
        stamp = policy_stamp(session=session)
        with self._lock:
            if self._policy is None or stamp != self._stamp:
                policy = current_policy(session=session, settings=self._settings)
                self._policy = replace(policy, unlabelled=self._unlabelled(session))
                self._stamp = stamp
                self.reads += 1
            return self._policy

    def _unlabelled(self, session: Session) -> np.ndarray:
        """Embeddings of the tickets whose label the model cannot know (`unlearned_tickets`)."""
        tickets = unlearned_tickets(session=session, limit=NO_LABEL_MAX)
        missing = [(key, text) for key, text in tickets if key not in self._vectors]
        if missing:
            texts = [text for _, text in missing]
            vectors = embed(texts, self._settings.sentence_encoder).astype(np.float32)
            self._vectors.update(zip((ticket_id for ticket_id, _ in missing), vectors, strict=True))
        kept = {ticket_id for ticket_id, _ in tickets}
        self._vectors = {k: v for k, v in self._vectors.items() if k in kept}
        if not tickets:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([self._vectors[ticket_id] for ticket_id, _ in tickets])

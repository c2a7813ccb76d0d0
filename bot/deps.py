"""What listeners and HTTP handlers need, built once per process by the composition root."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.services.model_cache import ModelCache
from bot.settings import Settings


@dataclass(frozen=True)
class Deps:
    """Settings, database, model and clock for one process."""

    settings: Settings
    factory: sessionmaker[Session]
    models: ModelCache
    now: Callable[[], datetime]
    rng: random.Random
    wake_deliveries: Callable[[], None]

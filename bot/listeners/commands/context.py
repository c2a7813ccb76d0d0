"""What one `/triage` invocation carries to its command, and how a command is declared."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from bot.deps import Deps
from storage.database import unit_of_work

T = TypeVar("T")
Message = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """The person, the words after the command name, and the process's dependencies."""

    deps: Deps
    user: str
    args: tuple[str, ...]
    client: Any

    async def db(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one unit of work off the event loop."""

        def unit() -> T:
            with unit_of_work(self.deps.factory) as session:
                return work(session)

        return await asyncio.to_thread(unit)


@dataclass(frozen=True)
class Command:
    """One `/triage` sub-command: its usage line, who may run it, and what it does."""

    name: str
    usage: str
    summary: str
    run: Callable[[Call], Awaitable[Message]]
    admin: bool = False
    slow: bool = False  # answered through response_url after a "Working on it…" ack

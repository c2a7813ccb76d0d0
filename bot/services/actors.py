"""Who made an admin change: a Slack user id, or `cli:NAME` for an operator at the command line.

The audit log, the runtime settings and the topics store this one string, so the log says
which surface a change came from, and an announcement can name the person the right way.
"""

from __future__ import annotations

import re

from bot.errors import InvalidInput

COMMAND_LINE = "cli:"
# The audit log's actor column holds 64 characters, prefix included.
OPERATOR_NAME = re.compile(r"^[\w.@\\-]{1,60}$")


def command_line_actor(operator: str) -> str:
    """The actor recorded for `operator` (`--as NAME` or the OS user) at the command line."""
    if not OPERATOR_NAME.match(operator):
        raise InvalidInput(
            f"`{operator}` is not an operator name: up to 60 letters, digits or _ . @ \\ -."
        )
    return COMMAND_LINE + operator


def command_line_operator(actor: str) -> str | None:
    """The operator's name when `actor` made the change at the command line, else None."""
    return actor.removeprefix(COMMAND_LINE) if actor.startswith(COMMAND_LINE) else None

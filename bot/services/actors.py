"""Who did something: a Slack user id, `cli:NAME` for an operator at the command line, or
`helpdesk:NAME` for a label a helpdesk agent sent back through the API.

The audit log, the runtime settings, the topics and the answers store this one string, so
the record says which surface an action came from, and Slack can name the person the right
way (a mention only for a Slack user).
"""

from __future__ import annotations

import re

from bot.errors import InvalidInput

COMMAND_LINE = "cli:"
HELPDESK = "helpdesk:"
# The audit log's actor column holds 64 characters, prefix included; so do answers'.
OPERATOR_NAME = re.compile(r"^[\w.@\\-]{1,60}$")
HELPDESK_AGENT = re.compile(r"[\w.@\\-]{1,55}", re.ASCII)  # as the OpenAPI pattern reads


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


def helpdesk_actor(agent: object) -> str:
    """The answer's author for a label the helpdesk agent `agent` decided."""
    if not isinstance(agent, str) or not HELPDESK_AGENT.fullmatch(agent):
        raise InvalidInput(
            "actor must be the helpdesk agent's name: up to 55 letters, digits or _ . @ \\ -.",
            field="actor",
        )
    return HELPDESK + agent


def helpdesk_agent(actor: str) -> str | None:
    """The agent's name when `actor` answered from the helpdesk, else None."""
    return actor.removeprefix(HELPDESK) if actor.startswith(HELPDESK) else None

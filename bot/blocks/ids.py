"""Action and block ids, defined once: the builders write them and the listeners match them."""

from __future__ import annotations

import re

SUGGEST = "triage_suggest"  # one button per suggestion: triage_suggest_0, _1, ...
SUGGEST_PATTERN = re.compile(rf"^{SUGGEST}_\d+$")
PICK_LABEL = "triage_pick_label"  # static or external select with every active label
SKIP = "triage_skip"
UNDO = "triage_undo"
NONE_OF_THESE = "triage_none_of_these"  # opens the "none of these" modal
NO_LABEL_VIEW = "triage_no_label"  # that modal's callback id; the ticket id is its metadata
PROPOSED_LABEL_BLOCK = "proposed_label"  # its optional "name the missing label" input
PROPOSED_LABEL_INPUT = "proposed_label_input"
TOPIC_CREATE = "triage_topic_create"  # App Home / labels suggest: create and re-ask
TOPIC_DISMISS = "triage_topic_dismiss"
# Button actions are matched by these; the ticket id travels in the block id.
ACTION_PATTERN = re.compile(rf"^({SUGGEST}_\d+|{PICK_LABEL}|{SKIP}|{UNDO}|{NONE_OF_THESE})$")

_BLOCK_PREFIX = "ticket:"


def ticket_block_id(ticket_id: int, part: str) -> str:
    """Block ids carry the ticket id, so a click needs no lookup by message ts."""
    return f"{_BLOCK_PREFIX}{ticket_id}:{part}"


def ticket_id_from_block(block_id: str) -> int | None:
    """The ticket id in a block id written by `ticket_block_id`, or None for anything else."""
    if not block_id.startswith(_BLOCK_PREFIX):
        return None
    number = block_id[len(_BLOCK_PREFIX) :].split(":", 1)[0]
    return int(number) if number.isdigit() else None

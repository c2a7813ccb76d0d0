"""What the read-only admin commands print: plain text for people, or JSON for scripts."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def json_options() -> argparse.ArgumentParser:
    """The `--json` option of the commands a script reads (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
    )
    return parent


def show(
    args: argparse.Namespace,
    data: T,
    words: Callable[[T], str],
    machine: Callable[[T], Any] = lambda data: data,
) -> int:
    """Print `data` in words, or as JSON when `--json` was given (to the command or to its
    parent, as in `labels --json`); exit status 0."""
    if getattr(args, "json", False):
        print(json.dumps(machine(data), default=_json_value))
    else:
        print(words(data))
    return 0


def _json_value(value: Any) -> Any:
    """Dataclasses as objects, moments as ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")

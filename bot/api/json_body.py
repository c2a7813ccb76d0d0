"""What a JSON body may hold beyond being JSON: strings every database can store, and a
nesting depth no handler has to recurse through.

`json.loads` accepts `"\\ud800"` (a lone UTF-16 surrogate) and returns a string that
cannot be encoded as UTF-8, so storing it failed deep in the database driver with a 500;
a body of 100,000 nested brackets overflowed the parser's recursion; `NaN` or `1e400` in
metadata reached PostgreSQL, which refuses them. All are refused here, naming the field
where there is one, before any handler sees them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from bot.errors import InvalidInput, TriageError

MAX_DEPTH = 32  # far beyond any ticket's metadata, far below Python's recursion limit
_SURROGATE = re.compile("[\ud800-\udfff]")


class MalformedJson(TriageError):
    """The body is not a JSON object this API can read."""

    status = 400


def refuse_constant(name: str) -> float:
    """`NaN` and `Infinity` are not JSON (RFC 8259), and PostgreSQL refuses to store them."""
    raise ValueError(f"{name} is not a JSON number")


def finite_float(literal: str) -> float:
    """A JSON number too large for a float (`1e400`) would be stored as Infinity: refuse it."""
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal} is out of range")
    return value


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds a UTF-16 surrogate, which UTF-8 (and so the database) refuses."""
    return _SURROGATE.search(text) is not None


def _check(value: Any, field: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise MalformedJson(f"The body is nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        if has_lone_surrogate(value):
            raise InvalidInput(
                f"{field} contains a lone UTF-16 surrogate, which is not text.", field=field
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, field, depth + 1)
            _check(item, field, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, field, depth + 1)


def check_json_object(body: dict[str, Any]) -> None:
    """Refuse lone surrogates (naming the top-level field they are in) and deep nesting."""
    for key, value in body.items():
        name = "(a member name)" if has_lone_surrogate(key) else key
        _check(key, name, 1)
        _check(value, name, 1)

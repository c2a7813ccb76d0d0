"""Refuse signed Slack requests whose body is not shaped like anything Slack sends.

Bolt and our listeners read payloads by key (`body["user"]["id"]`, `event["channel"]`), as
Slack's own samples do, so a body that is valid JSON but the wrong shape raises deep inside
them and is answered 500, which Slack then retries. This check runs after the signature
is verified and before Bolt sees the body: it parses the body the way Bolt does and names
the first thing that is wrong, so the request is answered 400 with that reason logged.

It checks what is read, not every field Slack documents: the envelope's type, the shapes
of the objects Bolt's context builders and our listeners index into, strings that cannot
be stored (lone surrogates) and nesting far deeper than any real payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from bot.errors import TriageError

MAX_DEPTH = 32  # real payloads nest about 10 deep (a view's blocks inside its state)

Check = Callable[[Any], str | None]


class Refused(TriageError):
    """Why a body is not a Slack request (caught here, never raised past `refusal`)."""


def refusal(body: bytes, content_type: str | None) -> str | None:
    """None when the body looks like a Slack request, else the reason it does not."""
    try:
        payload = _parse(body, content_type or "")
        _walk(payload, 0)
        _check(payload)
    except Refused as reason:
        return str(reason)
    return None


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    """The body as Bolt parses it: JSON, a form holding a JSON `payload`, or a plain form."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("body is not UTF-8") from None
    try:
        if content_type.startswith("application/json") or text.startswith("{"):
            parsed: Any = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
            parsed = json.loads(fields["payload"]) if "payload" in fields else fields
    except (ValueError, RecursionError):
        raise Refused("body is not JSON or a form Slack would send") from None
    if not isinstance(parsed, dict):
        raise Refused("payload is not an object")
    return parsed


def _walk(value: Any, depth: int) -> None:
    """No string that cannot be stored as UTF-8, no nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise Refused("payload nests too deeply")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused("payload holds a lone surrogate") from None
    elif isinstance(value, dict):
        for key, inner in value.items():
            _walk(key, depth + 1)
            _walk(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _walk(inner, depth + 1)


def _str(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _optional_str(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string"


def _id_holder(value: Any) -> str | None:
    """`team`, `user`, `channel`, `enterprise`: an id string or an object with a string id."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, dict):
        return _optional_str(value.get("id"))
    return "must be an id or an object with one"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be an object"


def _optional_object(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict) else "must be an object"


def _objects(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return None
    return "must be a list of objects"


def _action(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object"
    for key in ("action_id", "block_id", "value", "type"):
        if key in value and not isinstance(value[key], str):
            return f"{key} must be a string"
    if not isinstance(value.get("action_id"), str):
        return "action_id must be a string"
    option = value.get("selected_option")
    if option is not None and not (isinstance(option, dict) and _str(option.get("value")) is None):
        return "selected_option must be an object with a string value"
    return None


def _actions(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "must be a non-empty list"
    for action in value:
        problem = _action(action)
        if problem is not None:
            return problem
    return None


def _view(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object"
    for key in ("id", "type", "callback_id", "private_metadata", "hash", "external_id"):
        if key in value and not isinstance(value[key], str):
            return f"{key} must be a string"
    state = value.get("state")
    if state is not None and not (
        isinstance(state, dict) and isinstance(state.get("values"), dict)
    ):
        return "state must hold an object of values"
    if "blocks" in value:
        return _objects(value["blocks"])
    return None


def _submitted_view(value: Any) -> str | None:
    """A submitted or closed modal: Bolt reads its type, our listeners its state and id."""
    problem = _view(value)
    if problem is None and not isinstance(value.get("type"), str):
        return "type must be a string"
    return problem


def _user(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return _id_holder(value.get("team_id"))
    return "must be an object with a string id"


# What Bolt's context builders read from any payload, wherever the key appears at the top.
COMMON: Mapping[str, Check] = {
    "type": _optional_str,
    "token": _optional_str,
    "team_id": _optional_str,
    "api_app_id": _optional_str,
    "enterprise_id": _optional_str,
    "trigger_id": _optional_str,
    "response_url": _optional_str,
    "team": _id_holder,
    "enterprise": _id_holder,
    "user": _id_holder,
    "channel": _id_holder,
    "authorizations": _objects,
    "container": _optional_object,
    "message": _optional_object,
    "view": lambda value: None if value is None else _view(value),
    "state": _optional_object,
    "event": _optional_object,
    "actions": _objects,
    "authed_users": lambda value: None if isinstance(value, list) else "must be a list",
}
# What each payload type must carry for its listener, beyond COMMON's shapes.
REQUIRED: Mapping[str, Mapping[str, Check]] = {
    "block_actions": {"user": _user, "actions": _actions},
    "block_suggestion": {"user": _user, "action_id": _str, "value": _str},
    "view_submission": {"user": _user, "view": _submitted_view},
    "view_closed": {"user": _user, "view": _submitted_view},
    "url_verification": {"challenge": _str},
    "event_callback": {"event": _object},
}
EVENT: Mapping[str, Check] = {
    "type": _str,
    "subtype": _optional_str,
    "user": _optional_str,
    "channel": _id_holder,
    "text": _optional_str,
    "ts": _optional_str,
    "thread_ts": _optional_str,
    "event_ts": _optional_str,
    "bot_id": _optional_str,
    "tab": _optional_str,
    "item": _optional_object,
    "message": _optional_object,
    "files": _objects,
    "blocks": _objects,
}
COMMAND: Mapping[str, Check] = {"command": _str, "user_id": _str, "text": _str}


def _check(payload: dict[str, Any]) -> None:
    """Every rule that applies to this payload, first failure raised."""
    _apply(payload, COMMON, required=False, where="")
    kind = payload.get("type")
    if kind is None and "command" in payload:
        _apply(payload, COMMAND, required=True, where="")
        return
    if kind is None:
        raise Refused("payload has no type")
    _apply(payload, REQUIRED.get(kind, {}), required=True, where="")
    if kind == "event_callback":
        _apply(payload["event"], EVENT, required=False, where="event.")
        if not isinstance(payload["event"].get("type"), str):
            raise Refused("event.type must be a string")


def _apply(
    payload: dict[str, Any], rules: Mapping[str, Check], *, required: bool, where: str
) -> None:
    for key, rule in rules.items():
        if key not in payload:
            if required:
                raise Refused(f"{where}{key} is missing")
            continue
        problem = rule(payload[key])
        if problem is not None:
            raise Refused(f"{where}{key} {problem}")

"""Block Kit limits Slack enforces, checked locally so tests catch what Slack would reject."""

from __future__ import annotations

from typing import Any, NoReturn

TEXT_TYPES = ("plain_text", "mrkdwn")
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_PLACEHOLDER = 150
MAX_ID = 255
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000
SELECTS = ("static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes")


def _fail(where: str, reason: str) -> NoReturn:
    """Raise with the location of the offending part, so the test output points at it."""
    raise AssertionError(f"{where}: {reason}")


def _text(where: str, obj: Any, limit: int | None, *, plain_only: bool = False) -> None:
    """Check one text object: a dict with a known type, a string and a length in bounds."""
    if not isinstance(obj, dict):
        _fail(where, f"text object must be a dict, got {type(obj).__name__}")
    kind = obj.get("type")
    allowed = ("plain_text",) if plain_only else TEXT_TYPES
    if kind not in allowed:
        _fail(where, f"text type {kind!r} is not one of {allowed}")
    text = obj.get("text")
    if not isinstance(text, str):
        _fail(where, "text object has no string 'text'")
    if limit is not None and len(text) > limit:
        _fail(where, f"text is {len(text)} chars, limit is {limit}")


def _options(where: str, options: list[Any]) -> None:
    """Options of selects: count, text and value lengths."""
    if len(options) > MAX_OPTIONS:
        _fail(where, f"{len(options)} options, limit is {MAX_OPTIONS}")
    for i, option in enumerate(options):
        _text(f"{where}.options[{i}].text", option.get("text"), MAX_OPTION_TEXT)
        value = option.get("value", "")
        if len(str(value)) > MAX_OPTION_VALUE:
            _fail(
                f"{where}.options[{i}]", f"value is {len(value)} chars, limit is {MAX_OPTION_VALUE}"
            )


def _element(where: str, element: Any, action_ids: set[str]) -> None:
    """Interactive element: unique bounded action_id plus type-specific limits."""
    if not isinstance(element, dict):
        _fail(where, "element must be a dict")
    action_id = element.get("action_id")
    if action_id is not None:
        if len(action_id) > MAX_ID:
            _fail(where, f"action_id is {len(action_id)} chars, limit is {MAX_ID}")
        if action_id in action_ids:
            _fail(where, f"duplicate action_id {action_id!r}")
        action_ids.add(action_id)
    if "placeholder" in element:
        _text(f"{where}.placeholder", element["placeholder"], MAX_PLACEHOLDER, plain_only=True)
    kind = element.get("type")
    if kind == "button":
        _text(f"{where}.text", element.get("text"), MAX_BUTTON_TEXT, plain_only=True)
        value = element.get("value")
        if value is not None and len(value) > MAX_BUTTON_VALUE:
            _fail(where, f"button value is {len(value)} chars, limit is {MAX_BUTTON_VALUE}")
    elif kind in SELECTS:
        _options(where, list(element.get("options") or []))
        for g, group in enumerate(element.get("option_groups") or []):
            _options(f"{where}.option_groups[{g}]", list(group.get("options") or []))


def _block(where: str, block: Any, action_ids: set[str]) -> None:
    """One block: type-specific element counts and text lengths."""
    if not isinstance(block, dict) or "type" not in block:
        _fail(where, "block must be a dict with a 'type'")
    kind = block["type"]
    where = f"{where} ({kind})"
    if kind == "section":
        if "text" not in block and "fields" not in block:
            _fail(where, "section needs 'text' or 'fields'")
        if "text" in block:
            _text(f"{where}.text", block["text"], MAX_SECTION_TEXT)
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            _fail(where, f"{len(fields)} fields, limit is {MAX_FIELDS}")
        for i, field in enumerate(fields):
            _text(f"{where}.fields[{i}]", field, MAX_FIELD_TEXT)
        if "accessory" in block:
            _element(f"{where}.accessory", block["accessory"], action_ids)
    elif kind == "header":
        _text(f"{where}.text", block.get("text"), MAX_HEADER_TEXT, plain_only=True)
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            _fail(where, f"{len(elements)} elements, must be 1..{MAX_ACTIONS_ELEMENTS}")
        for i, element in enumerate(elements):
            _element(f"{where}.elements[{i}]", element, action_ids)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            _fail(where, f"{len(elements)} elements, must be 1..{MAX_CONTEXT_ELEMENTS}")
        for i, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") != "image":
                _text(f"{where}.elements[{i}]", element, MAX_CONTEXT_TEXT)
    elif kind == "input":
        _text(f"{where}.label", block.get("label"), 2000, plain_only=True)
        _element(f"{where}.element", block.get("element"), action_ids)


def _blocks(blocks: Any, limit: int) -> None:
    """Shared checks for the blocks of messages and views."""
    if not isinstance(blocks, list):
        _fail("blocks", f"must be a list, got {type(blocks).__name__}")
    if len(blocks) > limit:
        _fail("blocks", f"{len(blocks)} blocks, limit is {limit}")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id is not None:
            if len(block_id) > MAX_ID:
                _fail(f"blocks[{i}]", f"block_id is {len(block_id)} chars, limit is {MAX_ID}")
            if block_id in block_ids:
                _fail(f"blocks[{i}]", f"duplicate block_id {block_id!r}")
            block_ids.add(block_id)
        _block(f"blocks[{i}]", block, action_ids)


def blocks_problem(message: dict[str, Any]) -> str | None:
    """Why Slack would refuse the message's blocks (it answers `invalid_blocks`), or None."""
    if "blocks" not in message:
        return None
    try:
        _blocks(message["blocks"], MAX_MESSAGE_BLOCKS)
    except AssertionError as error:
        return str(error)
    return None


def fallback_problem(message: dict[str, Any]) -> str | None:
    """Why the message lacks the fallback `text` notifications need, or None.

    Slack still posts such a message (with a warning), so the fake accepts it too, but
    records the problem so the test fails.
    """
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return "text: fallback text is missing or empty (needed for notifications)"
    return None


def assert_valid_message(message: dict[str, Any]) -> None:
    """Fail with a precise reason if Slack would reject (or badly render) this message."""
    problem = fallback_problem(message) or blocks_problem(message)
    if problem is not None:
        raise AssertionError(problem)


def assert_valid_view(view: dict[str, Any]) -> None:
    """Fail with a precise reason if Slack would reject this modal or App Home view."""
    kind = view.get("type")
    if kind not in ("modal", "home"):
        _fail("type", f"view type {kind!r} is not 'modal' or 'home'")
    if kind == "modal":
        _text("title", view.get("title"), MAX_VIEW_TITLE, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                _text(key, view[key], MAX_VIEW_TITLE, plain_only=True)
    if len(view.get("callback_id") or "") > MAX_ID:
        _fail("callback_id", f"longer than {MAX_ID} chars")
    if len(view.get("private_metadata") or "") > MAX_PRIVATE_METADATA:
        _fail("private_metadata", f"longer than {MAX_PRIVATE_METADATA} chars")
    _blocks(view.get("blocks", []), MAX_VIEW_BLOCKS)

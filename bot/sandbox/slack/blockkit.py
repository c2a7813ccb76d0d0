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
MAX_URL = 3000
MAX_ALT_TEXT = 2000
MAX_LABEL = 2000
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
SELECTS = ("static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes")
MENUS = tuple(
    f"{many}{kind}_select"
    for many in ("", "multi_")
    for kind in ("static", "external", "users", "conversations", "channels")
)
PICKERS = ("datepicker", "datetimepicker", "timepicker")
TEXT_INPUTS = (
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
)
# Where each element type may appear, as Slack's block reference lists them.
ACTIONS_ELEMENTS = frozenset(
    ("button", "checkboxes", "overflow", "radio_buttons", "workflow_button", *MENUS, *PICKERS)
)
ACCESSORY_ELEMENTS = (ACTIONS_ELEMENTS - {"datetimepicker"}) | {"image"}
INPUT_ELEMENTS = frozenset(("checkboxes", "radio_buttons", *MENUS, *PICKERS, *TEXT_INPUTS))
CONTEXT_ELEMENTS = ("image", "plain_text", "mrkdwn")
RICH_TEXT_PARTS = (
    "rich_text_section",
    "rich_text_list",
    "rich_text_quote",
    "rich_text_preformatted",
)
BLOCK_TYPES = (
    "section",
    "header",
    "actions",
    "context",
    "divider",
    "image",
    "input",
    "rich_text",
    "file",
    "video",
    "markdown",
)
BUTTON_STYLES = ("primary", "danger")


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
    if not text:
        _fail(where, "text must be more than 0 characters")
    if limit is not None and len(text) > limit:
        _fail(where, f"text is {len(text)} chars, limit is {limit}")


def _confirm(where: str, confirm: Any) -> None:
    """A confirmation dialog: title, text and both button labels, each within its limit."""
    if not isinstance(confirm, dict):
        _fail(where, "confirm must be a dict")
    _text(f"{where}.title", confirm.get("title"), MAX_CONFIRM_TITLE, plain_only=True)
    _text(f"{where}.text", confirm.get("text"), MAX_CONFIRM_TEXT)
    _text(f"{where}.confirm", confirm.get("confirm"), MAX_CONFIRM_BUTTON, plain_only=True)
    _text(f"{where}.deny", confirm.get("deny"), MAX_CONFIRM_BUTTON, plain_only=True)
    if confirm.get("style") not in (None, *BUTTON_STYLES):
        _fail(where, f"style {confirm.get('style')!r} is not one of {BUTTON_STYLES}")


def _image(where: str, image: dict[str, Any]) -> None:
    """An image (block or element): a URL or Slack file, and alt text for screen readers."""
    url = image.get("image_url")
    if url is None and "slack_file" not in image:
        _fail(where, "image needs 'image_url' or 'slack_file'")
    if url is not None and (not isinstance(url, str) or len(url) > MAX_URL):
        _fail(where, f"image_url must be a string of at most {MAX_URL} chars")
    alt = image.get("alt_text")
    if not isinstance(alt, str) or not alt or len(alt) > MAX_ALT_TEXT:
        _fail(where, f"alt_text must be a string of 1 to {MAX_ALT_TEXT} chars")


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


def _element(
    where: str, element: Any, action_ids: set[str], allowed: frozenset[str] | tuple[str, ...]
) -> None:
    """Interactive element: a type allowed here, unique bounded action_id, type limits."""
    if not isinstance(element, dict):
        _fail(where, "element must be a dict")
    kind = element.get("type")
    if kind not in allowed:
        _fail(where, f"element type {kind!r} is not allowed here")
    if kind == "image":
        _image(where, element)
        return
    action_id = element.get("action_id")
    if action_id is not None:
        if len(action_id) > MAX_ID:
            _fail(where, f"action_id is {len(action_id)} chars, limit is {MAX_ID}")
        if action_id in action_ids:
            _fail(where, f"duplicate action_id {action_id!r}")
        action_ids.add(action_id)
    if "placeholder" in element:
        _text(f"{where}.placeholder", element["placeholder"], MAX_PLACEHOLDER, plain_only=True)
    if "confirm" in element:
        _confirm(f"{where}.confirm", element["confirm"])
    if kind == "button":
        _text(f"{where}.text", element.get("text"), MAX_BUTTON_TEXT, plain_only=True)
        value = element.get("value")
        if value is not None and len(value) > MAX_BUTTON_VALUE:
            _fail(where, f"button value is {len(value)} chars, limit is {MAX_BUTTON_VALUE}")
        if element.get("style") not in (None, *BUTTON_STYLES):
            _fail(where, f"style {element.get('style')!r} is not one of {BUTTON_STYLES}")
        if len(str(element.get("url") or "")) > MAX_URL:
            _fail(where, f"url is longer than {MAX_URL} chars")
    elif kind in ("external_select", "multi_external_select"):
        minimum = element.get("min_query_length", 0)
        if not isinstance(minimum, int) or minimum < 0:
            _fail(where, "min_query_length must be a non-negative integer")
    elif kind in SELECTS:
        _options(where, list(element.get("options") or []))
        for g, group in enumerate(element.get("option_groups") or []):
            _options(f"{where}.option_groups[{g}]", list(group.get("options") or []))


def _block(where: str, block: Any, action_ids: set[str]) -> None:
    """One block: type-specific element counts and text lengths."""
    if not isinstance(block, dict) or "type" not in block:
        _fail(where, "block must be a dict with a 'type'")
    kind = block["type"]
    if kind not in BLOCK_TYPES:
        _fail(where, f"unknown block type {kind!r}")
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
            _element(f"{where}.accessory", block["accessory"], action_ids, ACCESSORY_ELEMENTS)
    elif kind == "header":
        _text(f"{where}.text", block.get("text"), MAX_HEADER_TEXT, plain_only=True)
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            _fail(where, f"{len(elements)} elements, must be 1..{MAX_ACTIONS_ELEMENTS}")
        for i, element in enumerate(elements):
            _element(f"{where}.elements[{i}]", element, action_ids, ACTIONS_ELEMENTS)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            _fail(where, f"{len(elements)} elements, must be 1..{MAX_CONTEXT_ELEMENTS}")
        for i, element in enumerate(elements):
            if not isinstance(element, dict) or element.get("type") not in CONTEXT_ELEMENTS:
                _fail(f"{where}.elements[{i}]", f"must be one of {CONTEXT_ELEMENTS}")
            if element.get("type") == "image":
                _image(f"{where}.elements[{i}]", element)
            else:
                _text(f"{where}.elements[{i}]", element, MAX_CONTEXT_TEXT)
    elif kind == "input":
        _text(f"{where}.label", block.get("label"), MAX_LABEL, plain_only=True)
        if "hint" in block:
            _text(f"{where}.hint", block["hint"], MAX_LABEL, plain_only=True)
        _element(f"{where}.element", block.get("element"), action_ids, INPUT_ELEMENTS)
    elif kind == "image":
        _image(where, block)
        if "title" in block:
            _text(f"{where}.title", block["title"], MAX_ALT_TEXT, plain_only=True)
    elif kind == "rich_text":
        parts = block.get("elements")
        if not isinstance(parts, list) or not parts:
            _fail(where, "rich_text needs a non-empty 'elements' list")
        for i, part in enumerate(parts):
            if not isinstance(part, dict) or part.get("type") not in RICH_TEXT_PARTS:
                _fail(f"{where}.elements[{i}]", f"must be one of {RICH_TEXT_PARTS}")


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


def view_problem(view: Any) -> str | None:
    """Why Slack would refuse this modal or App Home view (`invalid_arguments`), or None."""
    try:
        assert_valid_view(view)
    except AssertionError as error:
        return str(error)
    return None


def assert_valid_view(view: dict[str, Any]) -> None:
    """Fail with a precise reason if Slack would reject this modal or App Home view."""
    if not isinstance(view, dict):
        _fail("view", "must be a dict")
    kind = view.get("type")
    if kind not in ("modal", "home"):
        _fail("type", f"view type {kind!r} is not 'modal' or 'home'")
    if kind == "modal":
        _text("title", view.get("title"), MAX_VIEW_TITLE, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                _text(key, view[key], MAX_VIEW_TITLE, plain_only=True)
        inputs = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if inputs and "submit" not in view:
            _fail("submit", "a modal with input blocks needs a submit button")
    if len(view.get("callback_id") or "") > MAX_ID:
        _fail("callback_id", f"longer than {MAX_ID} chars")
    if len(view.get("private_metadata") or "") > MAX_PRIVATE_METADATA:
        _fail("private_metadata", f"longer than {MAX_PRIVATE_METADATA} chars")
    _blocks(view.get("blocks", []), MAX_VIEW_BLOCKS)

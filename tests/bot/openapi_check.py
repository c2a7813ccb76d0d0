"""Hold an HTTP answer to bot/api/openapi.json: its status is described for the operation,
its content type is the one described, and its body is valid against the schema."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
import jsonschema_rs

from bot.api.openapi import openapi_document


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        node: Any = spec
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        item = node
    return item


def described_response(path: str, method: str, status: int) -> dict[str, Any]:
    """The response object the description gives `method path` for `status` (or its range)."""
    spec = openapi_document()
    responses = spec["paths"][path][method.lower()]["responses"]
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return _resolve(spec, responses[key])
    raise AssertionError(f"{method} {path} answered {status}, which the description omits")


@cache
def _validator(pointer: str) -> Any:
    root = {"$ref": pointer, "components": openapi_document()["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def assert_conforms(response: httpx.Response, path: str) -> Any:
    """Check `response` (to a request on the templated `path`) and return its JSON body."""
    method = response.request.method
    described = described_response(path, method, response.status_code)
    media_type = response.headers.get("content-type", "").split(";")[0]
    content = described.get("content", {})
    assert media_type in content, f"{method} {path} {response.status_code}: {media_type}"
    for name, header in described.get("headers", {}).items():
        assert not header.get("required") or name.lower() in response.headers, name
    if media_type == "text/plain":
        return response.text
    schema = content[media_type]["schema"]
    assert set(schema) == {"$ref"}, "response schemas are named components"
    body = response.json()
    errors = [e.message for e in _validator(schema["$ref"]).iter_errors(body)]
    assert not errors, f"{method} {path} {response.status_code}: {errors}"
    return body

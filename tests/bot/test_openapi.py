"""bot/api/openapi.json and the routes agree: every route is described, every described
operation is routed, and the file is what `GET /api/openapi.json` serves."""

from __future__ import annotations

import json

from starlette.routing import Route

from bot.api.openapi import openapi_document
from tests.bot.conftest import RunningWeb
from tests.bot.openapi_check import assert_conforms, described_response
from tests.conftest import REPO

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
# Slack's own protocol (signed requests Slack sends), not part of the integrators' API.
UNDESCRIBED = {"/slack/events"}
# Described ahead of the code by contract with the branch that builds it; once that branch
# is merged the route exists and is checked as every other (then drop it from here).
PENDING = {("/api/tickets/batch", "post")}


def routed(web: RunningWeb) -> set[tuple[str, str]]:
    """(path, method) for every route of the running app (HEAD is implied by GET)."""
    return {
        (route.path, method.lower())
        for route in web.process.app.routes
        if isinstance(route, Route) and route.path not in UNDESCRIBED
        for method in route.methods or ()
        if method != "HEAD"
    }


def described() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_route_is_described_and_every_description_is_routed(web: RunningWeb) -> None:
    assert routed(web) - described() == set(), "routes missing from bot/api/openapi.json"
    assert described() - routed(web) - PENDING == set(), "described but not routed"


def test_every_operation_documents_its_errors_as_problems() -> None:
    spec = openapi_document()
    for path, method in described():
        operation = spec["paths"][path][method]
        assert operation["operationId"] and operation["summary"]
        if path.startswith("/api/") and path != "/api/openapi.json":
            assert operation.get("security", spec["security"]) == [{"bearer": []}]
            unauthorized = described_response(path, method, 401)
            assert "application/problem+json" in unauthorized["content"]
        for status in ("400", "404", "409", "413", "422"):
            if status in operation["responses"]:
                answer = described_response(path, method, int(status))
                assert list(answer["content"]) == ["application/problem+json"], (path, method)


def test_the_file_is_served_and_shipped_as_package_data(web: RunningWeb) -> None:
    response = web.client.get(web.url + "/api/openapi.json")
    assert response.status_code == 200
    body = assert_conforms(response, "/api/openapi.json")
    assert body == json.loads((REPO / "bot" / "api" / "openapi.json").read_text())
    assert body["openapi"].startswith("3.1")
    assert '"api/openapi.json"' in (REPO / "pyproject.toml").read_text()


def test_a_wrong_method_names_every_method_the_path_takes(web: RunningWeb) -> None:
    response = web.api("PUT", "/api/tickets/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:triage-loop:problem:method-not-allowed"

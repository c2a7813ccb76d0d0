"""The ticket API's answers to bad input: JSON with a reason and the right status."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.slack import FakeSlack
from classifier import TrainedModel
from storage.database import create_db_engine
from storage.models import ModelVersion, Ticket
from tests.bot.conftest import RunningWeb, install_model, serving, web_settings
from tests.bot.openapi_check import assert_conforms


def ticket_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Authorization": ""}, "Authorization: Bearer"),
        ({"Authorization": "Bearer wrong"}, "not valid"),
        ({"Authorization": "Basic dGVzdA=="}, "Authorization: Bearer"),
    ],
)
def test_missing_or_wrong_token_is_401(
    web: RunningWeb, factory: sessionmaker[Session], headers: dict[str, str], reason: str
) -> None:
    response = web.client.post(web.url + "/api/tickets", json={"text": "hi"}, headers=headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert web.client.get(web.url + "/api/tickets/1", headers=headers).status_code == 401
    assert ticket_count(factory) == 0


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b'{"subject": "no text"}', 422, "text is required"),
        (b'{"text": "   "}', 422, "empty text"),
        (b'{"text": 12}', 422, "text is required"),
        (b'{"text": "ok", "metadata": [1]}', 422, "metadata"),
        (b'{"text": "ok", "callback_url": "ftp://x"}', 422, "callback_url"),
        (b'{"text": "ok", "source": ""}', 422, "source"),
        (b'{"text": "ok", "external_id": ""}', 422, "external_id"),
    ],
)
def test_invalid_body_gets_a_reason(
    web: RunningWeb, factory: sessionmaker[Session], body: bytes, status: int, reason: str
) -> None:
    response = web.api(
        "POST", "/api/tickets", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert ticket_count(factory) == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"subject": "a\x00b"}, "subject contains a NUL"),
        ({"source": "zen\x00desk"}, "source contains a NUL"),
        ({"external_id": "zd\x001"}, "external_id contains a NUL"),
        ({"callback_url": "https://x.example/\x00"}, "callback_url contains a NUL"),
        ({"metadata": {"tags": ["ok", "b\x00d"]}}, "metadata contains a NUL"),
        ({"metadata": {"k\x00": 1}}, "metadata contains a NUL"),
    ],
)
def test_nul_in_any_field_is_refused_with_a_reason(
    web: RunningWeb, factory: sessionmaker[Session], fields: dict[str, object], reason: str
) -> None:
    response = web.api("POST", "/api/tickets", json={"text": "Where is my card?", **fields})
    assert response.status_code == 422, response.text
    assert reason in response.json()["error"]
    assert ticket_count(factory) == 0


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(
    web: RunningWeb, engine: Engine
) -> None:
    with engine.begin() as connection:  # the schema broken under the running server
        connection.execute(text("ALTER TABLE tickets RENAME TO tickets_gone"))
    for method, path, body in (
        ("GET", "/api/tickets/1", None),
        ("POST", "/api/tickets", {"text": "Where is my card?"}),
    ):
        response = web.api(method, path, json=body)
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        reason = "Internal error; the details are in the logs."
        assert response.json() == {
            "type": "urn:triage-loop:problem:internal",
            "title": "Internal error",
            "status": 500,
            "detail": reason,
            "error": reason,
            "request_id": response.headers["x-request-id"],
        }
    response = web.api("PUT", "/api/tickets/1")
    assert response.status_code == 405 and "error" in response.json()


def test_oversized_body_is_413(web: RunningWeb, factory: sessionmaker[Session]) -> None:
    response = web.api("POST", "/api/tickets", content=b'{"text": "' + b"a" * 300_000 + b'"}')
    assert response.status_code == 413
    assert "KiB" in response.json()["error"]
    assert ticket_count(factory) == 0


@pytest.mark.parametrize(
    ("body", "status", "field", "reason"),
    [
        (b'{"text": "ok", "external_id": "\\ud800"}', 422, "external_id", "lone UTF-16 surrogate"),
        (b'{"text": "\\udfff card"}', 422, "text", "lone UTF-16 surrogate"),
        (b'{"text": "ok", "metadata": {"\\ud83d": 1}}', 422, "metadata", "surrogate"),
        (b'{"text": "ok", "metadata": ' + b"[" * 40 + b"]" * 40 + b"}", 400, None, "nested"),
        (b"[" * 200_000 + b"]" * 200_000, 413, None, "KiB"),
        (b'{"text": "ok", "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, None, ""),
        (b'{"text": "ok", "metadata": {"x": NaN}}', 400, None, "not valid JSON"),
        (b'{"text": "ok", "metadata": {"x": 1e400}}', 400, None, "out of range"),
        (b'{"text": "ok", "metadata": {"x": ' + b"9" * 5_000 + b"}}", 400, None, "JSON"),
        (b'{"text": "ok", "external_id": true}', 422, "external_id", "external_id"),
        (b'{"text": "ok", "subject": 3}', 422, "subject", "subject"),
    ],
)
def test_hostile_json_is_a_problem_naming_the_field(
    web: RunningWeb,
    factory: sessionmaker[Session],
    body: bytes,
    status: int,
    field: str | None,
    reason: str,
) -> None:
    response = web.api(
        "POST", "/api/tickets", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = assert_conforms(response, "/api/tickets")
    assert problem["status"] == status and problem["type"].startswith("urn:triage-loop:problem:")
    assert reason in problem["detail"] and problem["error"] == problem["detail"]
    assert problem.get("field") == field
    assert ticket_count(factory) == 0


def test_a_created_ticket_says_where_it_lives(web: RunningWeb) -> None:
    created = web.api("POST", "/api/tickets", json={"text": "Card?", "external_id": "zd-1"})
    assert created.status_code == 201
    ticket = assert_conforms(created, "/api/tickets")
    assert created.headers["location"] == f"/api/tickets/{ticket['id']}"
    again = web.api("POST", "/api/tickets", json={"text": "Card?", "external_id": "zd-1"})
    assert again.status_code == 200 and "location" not in again.headers
    assert assert_conforms(again, "/api/tickets") == ticket
    read = web.api("GET", created.headers["location"])
    assert assert_conforms(read, "/api/tickets/{ticket_id}") == ticket


def test_unknown_ticket_is_404_json(web: RunningWeb) -> None:
    for path in ("/api/tickets/999", "/api/tickets/abc", "/api/tickets/99999999999999"):
        response = web.api("GET", path)
        assert response.status_code == 404
        assert "error" in assert_conforms(response, "/api/tickets/{ticket_id}")


def test_health_checks_the_database(web: RunningWeb) -> None:
    response = web.client.get(web.url + "/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True and response.json()["database"] == "ok"


@pytest.mark.parametrize("database", ["unmigrated", "unreachable"])
def test_health_is_503_when_the_database_is_not_usable(
    database: str,
    database_url: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    slack_signing_secret: str,
) -> None:
    url = database_url if database == "unmigrated" else f"sqlite:///{tmp_path}/missing/dir/x.db"
    engine = create_db_engine(url)
    settings = web_settings(url, fake_slack, slack_signing_secret)
    try:
        with serving(settings, engine, fake_slack) as web:
            response = web.client.get(web.url + "/healthz")
    finally:
        engine.dispose()
    assert response.status_code == 503 and response.json()["ok"] is False
    expected = "triage db upgrade" if database == "unmigrated" else "unreachable"
    assert expected in response.json()["database"]


def test_without_a_model_everything_goes_to_review(web: RunningWeb) -> None:
    response = web.api("POST", "/api/tickets", json={"text": "Where is my card?"})
    assert response.status_code == 201
    assert response.json()["status"] == "pending" and response.json()["model_version"] is None
    posted = web.fake.wait_for("chat.postMessage")[0]
    assert "no model is active yet" in str(posted.params["blocks"])


def test_a_model_that_fails_its_check_is_a_json_answer_with_the_reason(
    web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    version_id = install_model(factory, trained)
    with factory.begin() as session:  # the stored bytes no longer match their sha256
        session.execute(
            update(ModelVersion).where(ModelVersion.id == version_id).values(sha256="0" * 64)
        )
    response = web.api("POST", "/api/tickets", json={"text": "Where is my card?"})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "The stored model does not match its SHA-256 checksum."
    assert body["request_id"] == response.headers["x-request-id"]

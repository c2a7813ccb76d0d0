"""Fixtures for the Slack app and API: a trained model, and the real server on a free port."""

from __future__ import annotations

import csv
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.sandbox.slack import FakeSlack
from bot.server import WebProcess, build_web_process
from bot.services.policy import THRESHOLD
from bot.settings import Settings
from classifier import TrainedModel, dump_model, sha256_hex, train
from classifier.model import TicketClassifier
from storage.models import ModelStatus, ModelVersion
from storage.queries.labels import ensure_labels
from storage.queries.model_versions import activate
from storage.queries.runtime_settings import set_runtime_setting
from tests.conftest import SAMPLE_TRAIN

API_TOKEN = "test-api-token"
REVIEW_CHANNEL = "CREVIEW"
INTAKE_CHANNEL = "CINTAKE"
ALERTS_CHANNEL = "CALERTS"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def trained() -> TrainedModel:
    """One model trained on the shipped sample, shared by every test that needs predictions."""
    with SAMPLE_TRAIN.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return train([r["text"] for r in rows], [r["label"] for r in rows], target_precision=0.95)


_ARTIFACTS: weakref.WeakKeyDictionary[TicketClassifier, bytes] = weakref.WeakKeyDictionary()


def artifact_of(trained: TrainedModel) -> bytes:
    """`trained`'s skops bytes, serialised once per model (1.7 s each) for every test
    that stores it."""
    if trained.model not in _ARTIFACTS:
        _ARTIFACTS[trained.model] = dump_model(trained.model)
    return _ARTIFACTS[trained.model]


def install_model(factory: sessionmaker[Session], trained: TrainedModel) -> int:
    """Store `trained`, create its labels and make it the only active version, as the
    worker's promotion does; return the version id."""
    artifact = artifact_of(trained)
    with factory.begin() as session:
        ensure_labels([str(c) for c in trained.model.classes_], session=session, now=NOW)
        version = ModelVersion(
            status=ModelStatus.CANDIDATE,
            artifact=artifact,
            sha256=sha256_hex(artifact),
            metrics={"cv": trained.cv_metrics.to_dict(), "novelty": trained.novelty},
            thresholds=trained.thresholds.to_dict(),
            n_examples=trained.n_examples,
            n_answers=0,
            created_at=NOW,
        )
        session.add(version)
        session.flush()
        activate(version, session=session, now=NOW)
        return version.id


def install_two_models(factory: sessionmaker[Session], trained: TrainedModel) -> tuple[int, int]:
    """Two stored versions of the sample model: (an older, retired one; the active one)."""
    first = install_model(factory, trained)
    with factory.begin() as session:
        original = session.get(ModelVersion, first)
        assert original is not None
        original.status = ModelStatus.RETIRED
    return first, install_model(factory, trained)


def set_policy(factory: sessionmaker[Session], key: str, value: Any) -> None:
    """Change a runtime setting as an admin would."""
    with factory.begin() as session:
        set_runtime_setting(key, value, session=session, actor="UADMIN", now=NOW)


@dataclass
class RunningWeb:
    """The web process serving on 127.0.0.1, its fake Slack, and a signed-request helper."""

    url: str
    process: WebProcess
    fake: FakeSlack
    client: httpx.Client

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {API_TOKEN}", **kwargs.pop("headers", {})}
        return self.client.request(method, self.url + path, headers=headers, **kwargs)

    def slack(self, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
        body, headers = signed
        return self.client.post(self.url + "/slack/events", content=body, headers=headers)


def web_settings(database_url: str, fake: FakeSlack, secret: str, **extra: str) -> Settings:
    """Settings of a deployment talking to the fake Slack."""
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": fake.base_url,
            "TRIAGE_REVIEW_CHANNEL": REVIEW_CHANNEL,
            "TRIAGE_INTAKE_CHANNEL": INTAKE_CHANNEL,
            "TRIAGE_ALERTS_CHANNEL": ALERTS_CHANNEL,
            "TRIAGE_API_TOKEN": API_TOKEN,
            "TRIAGE_ADMINS": "UADMIN",
            "TRIAGE_AUDIT_RATE": "0",
            # The fake's callback receiver is on loopback, where callbacks go only if allowed.
            "TRIAGE_CALLBACK_ALLOW": "127.0.0.1",
            # Each test that needs second opinions asks for them (test_second_opinions).
            "TRIAGE_SECOND_OPINION_SHARE": "0",
            "TRIAGE_SECOND_OPINION_DOUBTS": "off",
            **extra,
        },
        dotenv_path=None,
    )


@contextmanager
def serving(
    settings: Settings, engine: Engine, fake: FakeSlack, **options: Any
) -> Iterator[RunningWeb]:
    """Run the real ASGI app under uvicorn in a thread, on a free port, until the block ends;
    `options` go to build_web_process (a clock, the leader-check interval).

    Delivery runs on the web process's thread, as TRIAGE_WEB_DELIVERY=thread has it, with a
    short backoff, so a test sees retries in milliseconds and starts no child process; the
    child process `triage serve` uses by default is tested on its own
    (`tests/bot/test_delivery_process.py`), around the same `Deliverer`."""
    process = build_web_process(
        settings.with_overrides(web_delivery="thread"),
        engine,
        model_refresh_seconds=0.2,
        delivery_backoff=0.05,
        **options,
    )
    config = uvicorn.Config(process.app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        fake.wait_until(lambda: server.started, 10.0, "the web server to start")
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            yield RunningWeb(f"http://127.0.0.1:{port}", process, fake, client)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def web(
    database_url: str, engine: Engine, fake_slack: FakeSlack, slack_signing_secret: str
) -> Iterator[RunningWeb]:
    """The web process with Slack configured, on an empty migrated database."""
    settings = web_settings(database_url, fake_slack, slack_signing_secret)
    with serving(settings, engine, fake_slack) as running:
        yield running


@pytest.fixture
def reviewing(web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel) -> RunningWeb:
    """The web process with the sample model active and every ticket sent to review."""
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 1.0)  # nothing is confident enough
    return web


OPERATOR = "ops-olga"  # the OS user a command-line change is recorded under without --as


@dataclass(frozen=True)
class Ran:
    """What one `triage` command did: its exit status and what it printed."""

    status: int
    out: str
    err: str


@pytest.fixture
def cli(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., Ran]:
    """Run the real `triage` entry point in-process, with the deployment's settings as an
    operator's shell would have them: the test database and the alerts channel, no Slack."""
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in list(os.environ):
        if name.startswith(("TRIAGE_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRIAGE_ALERTS_CHANNEL", ALERTS_CHANNEL)
    monkeypatch.setenv("TRIAGE_AUDIT_RATE", "0")
    monkeypatch.setenv("LOGNAME", OPERATOR)

    def run(*args: str) -> Ran:
        capsys.readouterr()  # whatever came before is not this command's
        status = main(list(args))
        out, err = capsys.readouterr()
        return Ran(status, out, err)

    return run

"""A running web process switches to a newly promoted model without a restart."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import SettingsError
from bot.sandbox.slack.waiting import wait_until
from bot.server import settle_heap_after_load
from bot.services.model_cache import ModelCache
from bot.services.models import LoadedModel
from bot.settings import Settings
from classifier import TrainedModel
from tests.bot.conftest import API_TOKEN, RunningWeb, install_model


def test_promoted_model_is_used_by_the_next_tickets(
    web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    first = web.api("POST", "/api/tickets", json={"text": "Where is my new card?"}).json()
    assert first["model_version"] is None
    version = install_model(factory, trained)  # what the worker's promotion writes

    def picked_up() -> bool:
        answer = web.api("POST", "/api/tickets", json={"text": "Is my card on its way?"})
        assert answer.status_code == 201  # no request is dropped while the model switches
        return answer.json()["model_version"] == version

    # The fixture refreshes every 0.2 s; deployments every TRIAGE_MODEL_REFRESH_SECONDS (<= 60).
    web.fake.wait_until(picked_up, 10.0, "the web process to pick up the new model")


def test_model_refresh_interval_cannot_exceed_a_minute() -> None:
    with pytest.raises(SettingsError, match="TRIAGE_MODEL_REFRESH_SECONDS=120"):
        Settings.from_env({"TRIAGE_MODEL_REFRESH_SECONDS": "120"}, dotenv_path=None)


START_SERVER = "from bot.cli import main; raise SystemExit(main())"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def triage_serve(database_url: str, log: Path, **settings: str) -> Iterator[str]:
    """`triage serve` in a child process (API only, no Slack); yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "TRIAGE_API_TOKEN": API_TOKEN,
        "PYTHONPATH": os.getcwd(),
        **settings,
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-c", START_SERVER, "serve", "--host", "127.0.0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:

            def healthy() -> bool:
                assert server.poll() is None, f"triage serve exited: {log.read_text()}"
                try:
                    return httpx.get(url + "/healthz", timeout=2, trust_env=False).is_success
                except httpx.TransportError:
                    return False

            wait_until(healthy, timeout=60, what="triage serve to start")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_a_running_web_process_moves_from_v1_to_v2_without_dropping_requests(
    database_url: str,
    engine: Engine,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    tmp_path: Path,
) -> None:
    v1 = install_model(factory, trained)
    with (
        triage_serve(database_url, tmp_path / "serve.log", TRIAGE_MODEL_REFRESH_SECONDS="1") as url,
        httpx.Client(timeout=30.0, trust_env=False) as client,
    ):
        answers: list[tuple[int, int | None]] = []
        done = threading.Event()

        def keep_asking() -> None:  # tickets keep arriving while the model switches
            while not done.is_set():
                response = client.post(
                    url + "/api/tickets",
                    json={"text": "Is my card on its way?"},
                    headers={"Authorization": f"Bearer {API_TOKEN}"},
                )
                body = response.json() if response.status_code == 201 else {}
                answers.append((response.status_code, body.get("model_version")))

        asking = threading.Thread(target=keep_asking)
        asking.start()
        try:
            # The first answer waits on the process's start and model load: generous, since
            # a loaded CI machine has taken over 30 s.
            wait_until(lambda: (201, v1) in answers, timeout=90, what="v1 to serve")
            v2 = install_model(factory, trained)
            promoted = time.monotonic()
            wait_until(
                lambda: (201, v2) in answers[-1:], timeout=15, what="the web process to pick up v2"
            )
            switched_after = time.monotonic() - promoted
            wait_until(
                lambda: len(answers) > answers.index((201, v2)) + 5, timeout=15, what="more answers"
            )
        finally:
            done.set()
            asking.join(timeout=30)
    assert {status for status, _ in answers} == {201}  # not one request failed
    versions = [version for _, version in answers]
    first_v2 = versions.index(v2)
    assert set(versions[:first_v2]) == {v1} and set(versions[first_v2:]) == {v2}
    assert switched_after < 10  # TRIAGE_MODEL_REFRESH_SECONDS=1 here; <= 60 in deployments


def test_each_model_loaded_is_handed_to_on_load_once(
    factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    """The web process settles its heap after a load (`settle_heap_after_load`): once per
    version, outside the transaction, with the long-lived objects frozen afterwards."""
    seen: list[int] = []

    def settle(loaded: LoadedModel) -> None:
        settle_heap_after_load(loaded)
        seen.append(loaded.version_id)

    cache = ModelCache(factory, refresh_after=0.0, on_load=settle)
    try:
        assert cache.get() is None and seen == []  # no model yet: nothing to settle
        first = install_model(factory, trained)
        assert cache.get() is not None and cache.get() is not None
        assert seen == [first]
        assert gc.get_freeze_count() > 0
        second = install_model(factory, trained)
        loaded = cache.get()
        assert loaded is not None and loaded.version_id == second
        assert seen == [first, second]
    finally:
        gc.unfreeze()

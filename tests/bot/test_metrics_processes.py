"""WEB_CONCURRENCY > 1: `triage serve` runs several processes on one port, and any of them
answering a scrape reports the requests all of them served."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.bot.metrics_scrape import scrape, value
from tests.jobs.test_worker import START_WORKER
from tests.jobs.test_worker_metrics import free_port

PROCESSES = 2


@pytest.fixture
def two_web_processes(
    database_url: str, engine: Engine, tmp_path: Path, no_proxy: None
) -> Iterator[tuple[str, Path]]:
    """`triage serve` with WEB_CONCURRENCY=2; yields its URL and its metrics directory."""
    port, directory = free_port(), tmp_path / "prometheus"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(PROCESSES),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "PYTHONPATH": os.getcwd(),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", START_WORKER, "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url + "/healthz"):
            assert process.poll() is None, "triage serve exited"
            assert time.monotonic() < deadline, "triage serve never answered"
            time.sleep(0.1)
        yield url, directory
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def one_request(url: str) -> int:
    """A request on a connection of its own, so the kernel may hand it to either process."""
    with httpx.Client(trust_env=False, timeout=10) as client:
        return client.get(url, headers={"Connection": "close"}).status_code


def pids_that_counted(directory: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in directory.glob("counter_*.db")}


def test_a_scrape_sums_the_requests_of_every_web_process(
    two_web_processes: tuple[str, Path],
) -> None:
    url, directory = two_web_processes
    sent = 0
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(pids_that_counted(directory)) < PROCESSES or sent < 40:
            assert time.monotonic() < deadline, "only one process ever served"
            statuses = list(pool.map(one_request, [url + "/healthz"] * 20))
            assert statuses == [200] * 20
            sent += 20
    with httpx.Client(trust_env=False) as client:
        for _ in range(6):  # whichever process answers, the same total
            samples = scrape(client, url + "/metrics")
            counted = value(
                samples, "triage_http_requests_total", route="/healthz", method="GET", status="200"
            )
            assert counted == sent + 1  # and the start-up probe that first got an answer
            assert value(samples, "triage_database_up") == 1


COUNT_ONE_REQUEST = """
from bot.metrics.process import ProcessMetrics
from prometheus_client import values
metrics = ProcessMetrics()
metrics.http_requests.labels(route="/api/tickets", method="POST", status="201").inc()
print(values.ValueClass.__name__)
"""


def test_an_empty_metrics_directory_counts_in_memory_and_writes_no_files(
    tmp_path: Path,
) -> None:
    """`Settings.to_env` (the sandbox, the benchmarks) writes an unset directory as empty;
    prometheus-client would take that for a directory and count in files in the cwd."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": "", "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-c", COUNT_ONE_REQUEST],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "MutexValue"
    assert list(tmp_path.iterdir()) == []

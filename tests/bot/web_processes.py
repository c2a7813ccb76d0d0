"""`triage serve` with WEB_CONCURRENCY > 1 as a real process tree, for tests that need one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bot.cli.serve import SOCKET_MODE_LOCK
from bot.sandbox.slack.waiting import wait_until
from bot.settings import Settings
from tests.jobs.test_worker import START_WORKER
from tests.jobs.test_worker_metrics import free_port


class ServeProcesses:
    """A running `triage serve`: its parent (uvicorn's supervisor) and the web processes."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, directory: Path) -> None:
        self.process, self.url, self.directory = process, url, directory

    def web_pids(self) -> set[int]:
        """The supervisor's live web processes (multiprocessing's spawned children)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return set()
        found = set()
        for child in children:
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
                state = Path(f"/proc/{child}/stat").read_text().split()[2]
            except OSError:
                continue
            if b"spawn_main" in command and state != "Z":
                found.add(int(child))
        return found

    def socket_mode_holder(self) -> int | None:
        """The pid written in the Socket Mode lock file by the process that holds it."""
        try:
            written = (self.directory / SOCKET_MODE_LOCK).read_text().strip()
        except OSError:
            return None
        return int(written) if written else None

    def pids_that_served(self) -> set[int]:
        """Web processes that counted at least one request (prometheus' per-pid files)."""
        return {int(path.stem.rsplit("_", 1)[-1]) for path in self.directory.glob("counter_*.db")}

    def wait_until_each_served(self, count: int) -> None:
        """Send requests on fresh connections until `count` live processes have answered one;
        each has then finished its start-up (lifespan included)."""

        def each_served() -> bool:
            for _ in range(10):
                assert get(self.url + "/healthz") == 200
            return len(self.pids_that_served() & self.web_pids()) >= count

        wait_until(each_served, timeout=60, what=f"{count} web processes to answer")


def get(url: str) -> int:
    """A GET on a connection of its own, so the kernel may hand it to any process."""
    with httpx.Client(trust_env=False, timeout=10) as client:
        return client.get(url, headers={"Connection": "close"}).status_code


@contextmanager
def serve_processes(
    settings: Settings, directory: Path, processes: int = 2, **extra: str
) -> Iterator[ServeProcesses]:
    """`triage serve` with WEB_CONCURRENCY=`processes` on a free port; SIGTERM at the end."""
    port = free_port()
    env = {
        **os.environ,
        **settings.to_env(),
        "PORT": str(port),
        "WEB_CONCURRENCY": str(processes),
        "PROMETHEUS_MULTIPROC_DIR": str(directory) if processes > 1 else "",
        "PYTHONPATH": os.getcwd(),
        **extra,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", START_WORKER, "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    running = ServeProcesses(process, f"http://127.0.0.1:{port}", directory)
    try:
        deadline = time.monotonic() + 60
        while not _answers(running.url + "/healthz"):
            assert process.poll() is None, "triage serve exited"
            assert time.monotonic() < deadline, "triage serve never answered"
            time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _answers(url: str) -> bool:
    try:
        return get(url) == 200
    except httpx.HTTPError:
        return False

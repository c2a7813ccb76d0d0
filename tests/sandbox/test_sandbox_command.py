"""`triage sandbox` as a person runs it: from an empty directory to a page, then Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.sandbox.harness import free_port

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
DEADLINE = 120.0


def get(url: str) -> tuple[int, bytes]:
    with OPENER.open(url, timeout=30) as response:
        return response.status, response.read()


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sandbox_from_an_empty_directory_until_sigterm(tmp_path: Path, database_url: str) -> None:
    app_port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(app_port),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    command = [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0", "--feed", "120"]
    errors = (tmp_path / "stderr.txt").open("wb")
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=errors
    )

    def said() -> str:
        """The command's stderr, for assertion messages."""
        return (tmp_path / "stderr.txt").read_text(errors="replace")[-3000:]

    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()  # training the first model comes first
        assert line.startswith("Sandbox running at http://127.0.0.1:"), said()
        url = line.split()[3]
        status, page = get(url)
        assert status == 200 and b'<script type="module" src="/sandbox/static/sandbox.js">' in page
        assert get(f"http://127.0.0.1:{app_port}/healthz")[0] == 200
        workers = children_of(process.pid)
        assert len(workers) == 2, said()  # the web process and the worker

        deadline = time.monotonic() + DEADLINE
        while True:  # the feed posts through the API; the review channel fills
            state = json.loads(get(f"{url}sandbox/state?place=C01REVIEW&after=-1")[1])
            if state["channel"]["messages"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert state["channel"]["messages"], said()
        first = state["channel"]["messages"][0]["text"]  # a review, or an audit (10% of them)
        assert re.search(r"[Tt]icket #\d+", first), first

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, said()
        assert process.stdout.read() == b""  # one line, and only one
        assert not [pid for pid in workers if alive(pid)]
        for port in (app_port, int(url.rsplit(":", 1)[1].strip("/"))):
            try:
                get(f"http://127.0.0.1:{port}/")
                raise AssertionError(f"port {port} still answers")
            except urllib.error.URLError:
                pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        errors.close()

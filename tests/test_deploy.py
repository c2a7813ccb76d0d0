"""The container files: a multi-stage, non-root image whose entry commands are the Procfile's
roles, and a compose file with PostgreSQL, web and worker. No container engine runs in CI, so
the image's own commands (parsed from the files) are run here in the test's virtualenv."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.sandbox.slack.waiting import wait_until
from tests.jobs.test_worker_metrics import free_port

REPO = Path(__file__).resolve().parents[1]


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per instruction, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def last_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    start = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[start:]


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def procfile() -> dict[str, list[str]]:
    roles = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        role, _, command = line.partition(":")
        roles[role.strip()] = shlex.split(command.split("#")[0])
    return roles


def test_the_image_is_multi_stage_non_root_and_checks_its_health() -> None:
    instructions = dockerfile()
    assert sum(name == "FROM" for name, _ in instructions) >= 2
    final = dict(last_stage())
    assert final["USER"] not in ("root", "0")
    assert any(name == "COPY" and "--from=build" in args for name, args in last_stage())
    assert not any(name == "RUN" and "pip" in args for name, args in last_stage())
    assert final["HEALTHCHECK"].split()[0].startswith("--interval")
    assert json.loads(final["ENTRYPOINT"]) == ["triage"]
    assert json.loads(final["CMD"]) == ["serve"]
    for name, args in instructions:  # everything copied into the build exists
        if name == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), source


def test_compose_runs_postgres_and_the_procfile_roles() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "release", "web", "worker"}
    roles = {role: command[1:] for role, command in procfile().items()}  # without "triage"
    assert {name: services[name]["command"] for name in roles} == roles
    for name in roles:
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in services[name]["environment"]["DATABASE_URL"]
    assert services["release"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["release"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "triage", "worker", "--check"]
    assert services["web"]["ports"] == ["3000:3000"]


TRIAGE = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def in_venv(argv: list[str]) -> list[str]:
    """The image's command with the venv's `triage` and `python3` standing in for its own."""
    program = {"triage": TRIAGE, "python3": [sys.executable]}
    return program.get(argv[0], [argv[0]]) + argv[1:]


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        in_venv(argv),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        in_venv(argv), env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_the_image_commands_run_release_web_and_worker_with_their_health_checks(
    database_url: str, no_proxy: None
) -> None:
    final = dict(last_stage())
    entrypoint = json.loads(final["ENTRYPOINT"])
    services = compose()["services"]
    health = json.loads(final["HEALTHCHECK"].split("CMD", 1)[1])
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "TRIAGE_WORKER_LEASE_SECONDS": "3",
        "PYTHONPATH": str(REPO),
    }

    release = run(entrypoint + services["release"]["command"], env)
    assert release.returncode == 0, release.stderr
    web = start(entrypoint + services["web"]["command"], env)
    worker = start(entrypoint + services["worker"]["command"], env)
    worker_check = services["worker"]["healthcheck"]["test"][1:]
    try:
        wait_until(lambda: run(health, env).returncode == 0, timeout=60, what="a healthy web")
        wait_until(
            lambda: run(worker_check, env).returncode == 0, timeout=60, what="a healthy worker"
        )
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5, trust_env=False)
        assert answer.json()["worker"]["leader"] is not None
    finally:
        for process in (web, worker):
            process.send_signal(signal.SIGTERM)
        exits = [process.wait(timeout=30) for process in (web, worker)]
    # uvicorn finishes its requests, then re-raises SIGTERM so the exit says what stopped it.
    assert exits[0] in (0, -signal.SIGTERM) and exits[1] == 0
    wait_until(
        lambda: run(worker_check, env).returncode == 1,
        timeout=20,
        what="the check to fail with no worker",
    )

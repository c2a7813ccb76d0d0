"""`triage serve` delivers from a child process (TRIAGE_WEB_DELIVERY=process, the default):
review posts still reach Slack at once, the web process's /metrics counts the child's Slack
calls, a child that dies is replaced, and no child outlives its web process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from bot.delivery_process import deliver_until_told
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.waiting import wait_until
from tests.bot.conftest import API_TOKEN, REVIEW_CHANNEL, web_settings
from tests.bot.metrics_scrape import scrape, value
from tests.bot.web_processes import serve_processes


def delivery_children(pid: int) -> set[int]:
    """The live `bot.delivery_process` children of process `pid`."""
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
        if b"bot.delivery_process" in command and state != "Z":
            found.add(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def post_ticket(client: httpx.Client, url: str, external_id: str) -> int:
    body = {"text": "My card has not arrived yet", "source": "api", "external_id": external_id}
    answer = client.post(
        url + "/api/tickets", json=body, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def review_posts(fake: FakeSlack) -> list[dict[str, object]]:
    return [m for m in fake.messages(REVIEW_CHANNEL) if "thread_ts" not in m]


@pytest.mark.usefixtures("engine", "no_proxy")
def test_the_child_delivers_is_counted_is_replaced_when_killed_and_leaves_with_its_parent(
    database_url: str, fake_slack: FakeSlack, slack_signing_secret: str, tmp_path: Path
) -> None:
    settings = web_settings(database_url, fake_slack, slack_signing_secret)
    assert settings.web_delivery == "process"  # the default
    with serve_processes(settings, tmp_path / "run", processes=1) as serve:
        web = serve.process.pid
        client = httpx.Client(trust_env=False, timeout=30)
        post_ticket(client, serve.url, "first")  # no model yet: a person decides
        wait_until(
            lambda: len(review_posts(fake_slack)) == 1, timeout=30, what="the first review post"
        )
        [first_child] = delivery_children(web)
        assert first_child != web

        # Its Slack calls are counted in the web process's metrics, relayed after each pass.
        def counted() -> float:
            samples = scrape(client, serve.url + "/metrics")
            return value(samples, "triage_slack_api_requests_total", method="chat.postMessage")

        wait_until(
            lambda: counted() >= 1, timeout=15, what="the child's post counted by the web process"
        )

        # Killed outright, between passes: the next ticket starts a new child, which posts it.
        os.kill(first_child, signal.SIGKILL)
        wait_until(lambda: not alive(first_child), timeout=10, what="the killed child to go")
        time.sleep(1.0)  # past the restart pause, so the first wake starts the new child
        post_ticket(client, serve.url, "second")
        wait_until(
            lambda: len(review_posts(fake_slack)) == 2, timeout=30, what="the second review post"
        )
        [second_child] = delivery_children(web)
        assert second_child != first_child
        wait_until(lambda: counted() >= 2, timeout=15, what="the new child's post counted too")

        os.kill(web, signal.SIGTERM)  # the child ignores it, and leaves when its parent does
        serve.process.wait(timeout=30)
        wait_until(
            lambda: not alive(second_child), timeout=20, what="the child to leave with its parent"
        )
        client.close()
    assert [m["ts"] is not None for m in review_posts(fake_slack)] == [True, True]


def test_wake_ups_that_come_together_make_one_round_and_a_closed_pipe_a_last_one() -> None:
    """Wake-ups within the gathering wait share one round of passes (the first pass takes
    the rows, the next finds none); the pipe closing then ends the loop."""
    wake_read, wake_write = os.pipe()
    claims = iter([5, 0])
    passes: list[int] = []

    def run_pass() -> tuple[int, int]:
        claimed = next(claims, -1)  # -1: a round more than the wake-ups called for
        passes.append(claimed)
        return max(claimed, 0), max(claimed, 0)

    def parent() -> None:
        for _ in range(3):  # three batches queue posts 10 ms apart, then the parent stops
            os.write(wake_write, b"\0")
            time.sleep(0.01)
        os.close(wake_write)

    sender = threading.Thread(target=parent)
    sender.start()
    deliver_until_told(run_pass, wake_read, after_pass=lambda: None, poll=5.0, gather=0.1)
    sender.join()
    os.close(wake_read)
    assert passes == [5, 0]

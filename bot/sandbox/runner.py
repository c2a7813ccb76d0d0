"""`triage sandbox` at run time: the page playing Slack, the real web and worker processes.

The fake Slack (Web API and page on one port) runs in this process; the web app and the
worker are the same `triage serve` and `triage worker` a deployment runs, started as child
processes with settings that point them at the fake. Stopping stops all of them.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from bot.errors import TriageError
from bot.sandbox import cast
from bot.sandbox.feed import Feed
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.page import Page
from bot.sandbox.slack.people import AppLink, People
from bot.settings import Settings

HOST = "127.0.0.1"
COMMANDS = ("/triage",)
START_SECONDS = 90.0  # the web process loads the model before it answers
STOP_SECONDS = 25.0  # uvicorn finishes requests in flight; the worker stops its training
# What the sandbox needs that a deployment would not choose: retrain after a few answers,
# audit often enough to meet one, pick up a new model quickly, keep the terminal quiet.
# The environment and `.env` still win.
SETTING_DEFAULTS = {
    "TRIAGE_RETRAIN_MIN_ANSWERS": "20",
    "TRIAGE_RETRAIN_CHECK_SECONDS": "10",
    "TRIAGE_AUDIT_RATE": "0.1",
    "TRIAGE_DELIVERY_SECONDS": "2",
    "TRIAGE_MODEL_REFRESH_SECONDS": "5",
    "TRIAGE_LOG_LEVEL": "WARNING",
}


def sandbox_settings(settings: Settings, *, slack_api_url: str) -> Settings:
    """The deployment's settings with Slack replaced by the fake: fresh secrets every run, the
    cast's channels and admin, no Socket Mode, no admin group."""
    channel = {name: cid for cid, name, _ in cast.CHANNELS}
    return settings.with_overrides(
        slack_bot_token=f"xoxb-sandbox-{secrets.token_hex(12)}",
        slack_signing_secret=secrets.token_hex(16),
        slack_app_token=None,
        slack_api_url=slack_api_url,
        review_channel=channel["triage-review"],
        alerts_channel=channel["triage-alerts"],
        intake_channel=channel["triage-intake"],
        admins=frozenset(p.id for p in cast.PEOPLE if p.admin),
        admin_group=None,
        api_tokens=(f"sandbox-{secrets.token_hex(12)}",),
        callback_secrets=(secrets.token_hex(16),),  # signed, so no warning of unsigned ones
    )


@dataclass
class Sandbox:
    """The running sandbox; use as a context manager, or call start() and stop()."""

    settings: Settings
    page_port: int = 8080
    feed_per_minute: float = 3.0
    seed: int | None = None
    fake: FakeSlack = field(init=False)
    app_settings: Settings = field(init=False)
    children: dict[str, subprocess.Popen[bytes]] = field(init=False, default_factory=dict)
    feed: Feed | None = field(init=False, default=None)

    @property
    def url(self) -> str:
        """The page, where a person opens the sandbox."""
        return f"{self.fake.url}/"

    @property
    def app_url(self) -> str:
        """The web process: ticket API, Slack events, health check."""
        return f"http://{HOST}:{self.app_settings.port}"

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind the page, start the web process and wait for it, then the worker and feed."""
        self.fake = FakeSlack(
            tokens=(),
            users=cast.users(),
            channels=cast.channels(),
            team_name="Triage sandbox",
            strict_channels=True,
            real_time=True,
            host=HOST,
            port=self.page_port,
        )
        try:
            self.fake.start()
        except OSError as error:
            raise TriageError(
                f"cannot listen on {HOST}:{self.page_port} ({error.strerror}); "
                "pick another port with --port"
            ) from None
        try:
            self._start_app()
        except BaseException:
            self.stop()
            raise

    def _start_app(self) -> None:
        settings = sandbox_settings(self.settings, slack_api_url=self.fake.base_url)
        self.app_settings = settings
        self.fake.tokens = {str(settings.slack_bot_token)}
        self.fake.workspace.permalink_host = self.fake.url  # links in messages open the page
        link = AppLink(f"{self.app_url}/slack/events", str(settings.slack_signing_secret))
        people = People(self.fake, link, commands=COMMANDS)
        self.fake.page = Page(self.fake, people, people=[p.id for p in cast.PEOPLE])
        self.children["web"] = self._spawn("serve", "--host", HOST)
        self._wait_until_serving()
        self.children["worker"] = self._spawn("worker")
        self.feed = Feed(
            f"{self.app_url}/api/tickets",
            settings.api_tokens[0],
            self.feed_per_minute,
            seed=self.seed,
        )
        self.feed.start()

    def _spawn(self, *command: str) -> subprocess.Popen[bytes]:
        # The children get these settings and nothing from .env: every variable is set.
        environment = {**os.environ, **self.app_settings.to_env()}
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *command],
            env=environment,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches this process only; it stops them in order
        )

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            self.check_children()
            try:
                with opener.open(f"{self.app_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TriageError(f"the web process did not answer on {self.app_url} within a minute")

    def check_children(self) -> None:
        """Fail if the web or worker process stopped on its own."""
        for name, child in self.children.items():
            code = child.poll()
            if code is not None:
                raise TriageError(
                    f"the {name} process stopped (exit code {code}); its error is above"
                )

    def stop(self) -> None:
        """Stop the feed, then the worker and the web process (SIGTERM, then SIGKILL), then the
        page."""
        if self.feed is not None:
            self.feed.stop()
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.fake.stop()

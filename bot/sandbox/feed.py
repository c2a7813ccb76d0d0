"""Held-out sample tickets posted through the real ticket API at a steady pace, so the
sandbox's channels fill the way they would at work."""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import threading
import urllib.error
import urllib.request
from importlib import resources

log = logging.getLogger(__name__)

HOLDOUT = resources.files("bot") / "sample" / "banking77_sample_holdout.csv"
SOURCE = "sandbox-feed"


def holdout_texts() -> list[str]:
    """The shipped held-out sample, which the sandbox's first model never trained on."""
    rows = csv.DictReader(io.StringIO(HOLDOUT.read_text(encoding="utf-8"), newline=""))
    return [row["text"] for row in rows]


class Feed:
    """A thread posting `per_minute` tickets a minute (the first at once) until stopped."""

    def __init__(
        self, api_url: str, token: str, per_minute: float, *, seed: int | None = None
    ) -> None:
        self._url, self._token, self._per_minute = api_url, token, per_minute
        self._texts = holdout_texts()
        random.Random(seed).shuffle(self._texts)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-feed", daemon=True)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.posted = 0

    def start(self) -> None:
        if self._per_minute > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        interval = 60.0 / self._per_minute
        while not self._stop.is_set():
            self._post(self._texts[self.posted % len(self._texts)])
            self._stop.wait(interval)

    def _post(self, text: str) -> None:
        body = json.dumps({"text": text, "source": SOURCE}).encode("utf-8")
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=15) as response:
                response.read()
        except (urllib.error.URLError, OSError) as error:  # the web process is restarting?
            log.warning("feed post failed", extra={"error": str(error)})
            return
        self.posted += 1

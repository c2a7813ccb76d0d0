"""The page that plays Slack, served by the fake beside the Web API it is.

`GET /` is the page (plain HTML, CSS and JavaScript shipped in `static/`, no build step);
`GET /sandbox/state` waits for news and answers what one person sees; `POST /sandbox/<what>`
carries what a person does to `People`, which turns it into Slack's requests to the app.
Page requests must be JSON from a loopback host, so another site open in the same browser
cannot drive the sandbox (a cross-site JSON POST needs a CORS preflight this server refuses).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .people import ActionRefused, People
from .snapshot import HOME, snapshot

if TYPE_CHECKING:
    from .server import FakeSlack

PAGE_PREFIX = "/sandbox/"
STATIC = resources.files("bot.sandbox.slack") / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
LONG_POLL_SECONDS = 20.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
ARCHIVES = "/archives/"  # permalinks: /archives/C0123/p1700000000000100
PERMALINK = re.compile(r"^/archives/([A-Z0-9]+)/p(\d{10})(\d{6})$")

Reply = tuple[int, str, bytes]


def _json(status: int, body: Any) -> Reply:
    return status, "application/json; charset=utf-8", json.dumps(body).encode("utf-8")


def is_page_route(route: str) -> bool:
    """Whether a path belongs to the page rather than to the Web API."""
    return route == "/" or route.startswith((PAGE_PREFIX, ARCHIVES))


class Page:
    """Routes of the page; `people` are the workspace members shown in the person switcher."""

    def __init__(self, fake: FakeSlack, people_side: People, *, people: list[str]) -> None:
        self.fake, self.people_side, self.people = fake, people_side, people
        self._actions: dict[str, Callable[[dict[str, Any]], Any]] = {
            "message": self._message,
            "action": self._action,
            "options": self._options,
            "submit": self._submit,
            "close": self._close,
            "home": self._home,
        }

    def handle(self, verb: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Answer one page request."""
        host = headers.get("host", "").rsplit(":", 1)[0]
        if host not in LOOPBACK_HOSTS:
            return _json(403, {"ok": False, "error": "the sandbox answers loopback hosts only"})
        parts = urlsplit(path)
        route = parts.path
        if verb == "GET" and route == "/":
            return self._static("index.html")
        if verb == "GET" and (link := PERMALINK.match(route)):
            channel, seconds, micros = link.groups()
            target = f"/?place={channel}&ts={seconds}.{micros}"
            return 302, "text/plain; charset=utf-8", target.encode()
        if verb == "GET" and route.startswith(f"{PAGE_PREFIX}static/"):
            return self._static(route.removeprefix(f"{PAGE_PREFIX}static/"))
        if verb == "GET" and route == f"{PAGE_PREFIX}state":
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            return self._state(query)
        name = route.removeprefix(PAGE_PREFIX)
        if verb == "POST" and name in self._actions:
            if not headers.get("content-type", "").startswith("application/json"):
                return _json(415, {"ok": False, "error": "send JSON"})
            try:
                body = json.loads(raw.decode("utf-8") or "{}")
                if not isinstance(body, dict):
                    raise ValueError("not an object")
                return _json(200, {"ok": True, **(self._actions[name](body) or {})})
            except (ValueError, KeyError, TypeError) as error:
                return _json(400, {"ok": False, "error": f"bad request: {error}"})
            except ActionRefused as refused:
                return _json(200, {"ok": False, "error": str(refused)})
        return _json(404, {"ok": False, "error": "not_found"})

    def _static(self, name: str) -> Reply:
        suffix = name[name.rfind(".") :] if "." in name else ""
        asset = STATIC / name
        if "/" in name or suffix not in CONTENT_TYPES or not asset.is_file():
            return _json(404, {"ok": False, "error": "not_found"})
        return 200, CONTENT_TYPES[suffix], asset.read_bytes()

    def _state(self, query: dict[str, str]) -> Reply:
        user = query.get("user") or self.people[0]
        place = query.get("place") or HOME
        after = int(query.get("after") or -1)
        self.fake.wait_for_change(after, LONG_POLL_SECONDS)
        with self.fake.reading() as workspace:
            found = workspace.channel_id(place, create=False) if place != HOME else HOME
            return _json(
                200, snapshot(workspace, user=user, people=self.people, place=found or HOME)
            )

    # -- what people do ----------------------------------------------------------------------

    def _message(self, body: dict[str, Any]) -> None:
        """What the composer sends: a message, or a slash command when it starts with `/`."""
        text = str(body["text"])
        if text.lstrip().startswith("/") and not body.get("thread_ts"):
            self.people_side.run_command(str(body["user"]), str(body["channel"]), text)
        else:
            self.people_side.post_message(
                str(body["user"]), str(body["channel"]), text, body.get("thread_ts")
            )

    def _action(self, body: dict[str, Any]) -> None:
        self.people_side.act(
            str(body["user"]),
            dict(body["where"]),
            str(body["action_id"]),
            body.get("choice"),
            dict(body.get("state") or {}),
        )

    def _options(self, body: dict[str, Any]) -> dict[str, Any]:
        options = self.people_side.options(
            str(body["user"]), dict(body["where"]), str(body["action_id"]), str(body["query"])
        )
        return {"options": options}

    def _submit(self, body: dict[str, Any]) -> dict[str, Any]:
        errors = self.people_side.submit(
            str(body["user"]), str(body["view_id"]), dict(body.get("state") or {})
        )
        return {"errors": errors}

    def _close(self, body: dict[str, Any]) -> None:
        self.people_side.close(str(body["user"]), str(body["view_id"]))

    def _home(self, body: dict[str, Any]) -> None:
        self.people_side.open_home(str(body["user"]))

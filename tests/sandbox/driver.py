"""Steps a person takes on the sandbox page, found the way a screen reader finds them: by role
and accessible name, and messages by their data-channel / data-ts attributes."""

from __future__ import annotations

import itertools
import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox import cast
from bot.sandbox.runner import Sandbox

WAIT_MS = 30_000  # a round trip through the app, its outbox and the page's long poll
REVIEW, ALERTS, INTAKE = (cid for cid, _, _ in cast.CHANNELS)
NAMES = {cid: name for cid, name, _ in cast.CHANNELS}

expect.set_options(timeout=WAIT_MS)


_CASES = itertools.count(1)


def unique(text: str) -> str:
    """A ticket text no other test posts, so its message can be found by text. The suffix is
    a plain case number, not random letters: random text would make whether the model finds
    the ticket unlike anything it learned (and so hides its suggestions) a matter of luck."""
    return f"{text} (case {next(_CASES)})"


@dataclass
class SlackPage:
    """One browser tab on the sandbox, and the sandbox behind it."""

    page: Page
    sandbox: Sandbox
    factory: sessionmaker[Session]

    def open(self, person: cast.Person, place: str = REVIEW) -> SlackPage:
        self.page.goto(f"{self.sandbox.url}?as={person.id}&place={place}")
        expect(self.page.locator("body")).to_have_attribute("data-user", person.id)
        return self

    def message(self, text: str, channel: str = REVIEW) -> Locator:
        """The top-level message in `channel` containing `text` (waits for it)."""
        found = self.page.locator(f'li.message[data-channel="{channel}"]:not(.reply)').filter(
            has_text=text
        )
        expect(found).to_have_count(1)
        return found

    def private(self, text: str) -> Locator:
        """An ephemeral message or private answer containing `text`."""
        found = self.page.locator("li.message.ephemeral").filter(has_text=text)
        expect(found.first).to_be_visible()
        return found.last

    def send(self, text: str, channel: str = REVIEW) -> None:
        """Type in the channel's composer and press Enter, as a person does."""
        box = self.page.get_by_role("textbox", name=f"Message #{NAMES[channel]}")
        box.fill(text)
        box.press("Enter")

    def button(self, where: Locator, name: str) -> Locator:
        return where.get_by_role("button", name=name, exact=True)

    def pick(self, where: Locator, menu: str | re.Pattern[str], query: str, option: str) -> None:
        """Open a select by its placeholder, type to search, choose an option."""
        where.get_by_role("button", name=menu).click()
        search = where.get_by_role("combobox")
        search.fill(query)
        where.get_by_role("option", name=option, exact=True).click()

    # -- the app's own API, as a helpdesk would see it ------------------------------------------

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        token = self.sandbox.app_settings.api_tokens[0]
        request = urllib.request.Request(
            f"{self.sandbox.app_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=15) as response:
            return json.loads(response.read())

    def post_ticket(self, text: str) -> dict[str, Any]:
        return dict(self.api("POST", "/api/tickets", {"text": text, "source": "zendesk"}))

"""Take the README's pictures in the sandbox with the browser the tests use.

    .venv/bin/python -m tests.sandbox.screenshots [docs]

Runs a sandbox on a temporary SQLite database, walks through a review, a decision, an audit,
a retraining, the digest, App Home and `/triage stats`, and writes one PNG for each into the
folder (docs/ by default). Emoji need a colour emoji font (Debian: fonts-noto-color-emoji).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from bot.clock import utc_now
from bot.sandbox import cast
from bot.services.policy import AUDIT_RATE, THRESHOLD
from jobs.digest import post_digest
from storage.database import unit_of_work
from tests.bot.conftest import set_policy
from tests.sandbox.driver import ALERTS, SlackPage
from tests.sandbox.harness import CHROMIUM_FLAGS, chromium_path, running_sandbox

VIEWPORT: ViewportSize = {"width": 1280, "height": 760}
REVIEWS = (
    "I still haven't received my card, it's been 2 weeks and the app says it was sent",
    "Why was I charged a fee when I took cash out abroad?",
    "My transfer to a friend has been pending since yesterday",
)
AUDITED = "How do I top up with Apple Pay?"
ANSWERS = (("card_arr", "card_arrival"), ("cash_with", "cash_withdrawal_charge"))


def shoot(page: Page, folder: Path, name: str) -> None:
    page.mouse.move(0, 0)  # no hover highlight
    page.screenshot(path=folder / f"{name}.png")
    print(f"wrote {folder / name}.png")


def walk(slack: SlackPage, folder: Path) -> None:
    """The loop as the README tells it, one picture per step (the database as
    `triage sandbox` prepares it: the sample imported, a first model trained)."""
    page = slack.page
    set_policy(slack.factory, THRESHOLD, 1.0)
    set_policy(slack.factory, AUDIT_RATE, 0.0)
    for text in REVIEWS:
        slack.post_ticket(text)
    slack.open(cast.AGENT)
    first = slack.message(REVIEWS[0])
    for text in REVIEWS:
        slack.message(text)
    first.scroll_into_view_if_needed()
    shoot(page, folder, "review")

    slack.pick(first, "Pick another label", *ANSWERS[0])
    expect(first).to_contain_text("chosen by")
    slack.pick(slack.message(REVIEWS[1]), "Pick another label", *ANSWERS[1])
    expect(slack.message(REVIEWS[1])).to_contain_text("chosen by")
    first.scroll_into_view_if_needed()
    shoot(page, folder, "decided")

    set_policy(slack.factory, THRESHOLD, 0.0)
    set_policy(slack.factory, AUDIT_RATE, 1.0)
    slack.post_ticket(AUDITED)
    audit = slack.message(AUDITED)
    audit.scroll_into_view_if_needed()
    shoot(page, folder, "audit")
    slack.pick(audit, "Pick a label", "apple", "apple_pay_or_google_pay")  # the third answer
    expect(audit).to_contain_text("chosen by")
    set_policy(slack.factory, THRESHOLD, None)  # back to the model's own thresholds
    set_policy(slack.factory, AUDIT_RATE, 0.1)

    slack.open(cast.ADMIN, ALERTS)
    alerts = page.locator(f'li.message[data-channel="{ALERTS}"]')
    expect(alerts.filter(has_text=re.compile("Model v2 (promoted|rejected)"))).to_have_count(
        1, timeout=180_000
    )
    shoot(page, folder, "alert")

    with unit_of_work(slack.factory) as session:
        post_digest(session=session, settings=slack.sandbox.app_settings, now=utc_now())
    expect(alerts.filter(has_text="Daily triage digest")).to_have_count(1)
    alerts.last.scroll_into_view_if_needed()
    shoot(page, folder, "digest")

    slack.open(cast.ADMIN, "home")
    expect(page.get_by_role("region", name="App Home")).to_contain_text("Retrain now")
    shoot(page, folder, "app-home")

    slack.open(cast.AGENT)
    slack.send("/triage stats")
    slack.private("Last 7 days:").scroll_into_view_if_needed()
    shoot(page, folder, "stats")


def main(folder: Path) -> int:
    path = chromium_path()
    if path is None:
        print("Chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_sandbox(
            Path(scratch), None, TRIAGE_RETRAIN_MIN_ANSWERS="3", TRIAGE_RETRAIN_CHECK_SECONDS="5"
        ) as (sandbox, factory),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=VIEWPORT, device_scale_factor=1).new_page()
        walk(SlackPage(page, sandbox, factory), folder)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))

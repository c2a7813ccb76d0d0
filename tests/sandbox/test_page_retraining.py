"""Answers on the page retrain the model: the worker's alert appears in the alerts channel."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox import cast
from bot.sandbox.runner import Sandbox
from bot.services.policy import AUDIT_RATE, THRESHOLD
from classifier import TrainedModel
from tests.bot.conftest import set_policy
from tests.sandbox.driver import ALERTS, SlackPage, unique
from tests.sandbox.harness import running_sandbox

ANSWERS_TO_RETRAIN = 3
TICKETS = (
    ("My card has not arrived yet", "card_arrival"),
    ("Why was I charged a fee at the ATM?", "cash_withdrawal_charge"),
    ("How do I top up with Apple Pay?", "apple_pay_or_google_pay"),
)


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, trained: TrainedModel
) -> Iterator[tuple[Sandbox, sessionmaker[Session]]]:
    """A sandbox whose worker retrains after three answers, checking every 5 seconds."""
    with running_sandbox(
        tmp_path_factory.mktemp("retraining"),
        trained,
        TRIAGE_RETRAIN_MIN_ANSWERS=str(ANSWERS_TO_RETRAIN),
        TRIAGE_RETRAIN_CHECK_SECONDS="5",
    ) as running:
        yield running


# "Pick another label" under suggestions; "Pick a label" on a ticket unlike anything learned.
ANY_PICKER = re.compile(r"Pick (another|a) label")


def test_enough_answers_bring_a_retraining_alert(slack: SlackPage) -> None:
    set_policy(slack.factory, THRESHOLD, 1.0)
    set_policy(slack.factory, AUDIT_RATE, 0.0)
    texts = [unique(text) for text, _ in TICKETS]
    for text in texts:
        slack.post_ticket(text)
    slack.open(cast.AGENT)
    alerts = slack.page.locator(f'li.message[data-channel="{ALERTS}"]')
    for text, (_, label) in zip(texts, TICKETS, strict=True):
        message = slack.message(text)
        slack.pick(message, ANY_PICKER, label[:6], label)
        expect(message).to_contain_text(f"{label} — chosen by")

    slack.open(cast.ADMIN, ALERTS)
    alert = alerts.filter(has_text="Model v2")
    expect(alert).to_contain_text(re.compile(r"Model v2 (promoted|rejected)"), timeout=120_000)
    expect(alert).to_contain_text("What to do")

"""The loop in a real browser: tickets through the API appear on the sandbox page, and what a
person clicks or types there reaches the real app and comes back as Slack would show it."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import cast
from bot.services.policy import AUDIT_RATE, THRESHOLD
from tests.bot.conftest import set_policy
from tests.sandbox.driver import ALERTS, INTAKE, REVIEW, SlackPage, unique

CARD = "I ordered my card two weeks ago and it still has not arrived"


def test_a_ticket_from_the_api_appears_in_the_review_channel(slack: SlackPage) -> None:
    text = unique(CARD)
    ticket = slack.post_ticket(text)
    slack.open(cast.AGENT)
    message = slack.message(text)
    expect(message).to_contain_text(f"Ticket #{ticket['id']} · zendesk")
    expect(message).to_contain_text("Model v1 suggests:")
    expect(message.get_by_role("button", name="Pick another label")).to_be_visible()
    assert message.get_attribute("data-ts")
    assert message.get_attribute("data-channel") == REVIEW


def test_a_suggestion_labels_the_ticket_and_undo_takes_it_back(slack: SlackPage) -> None:
    text = unique(CARD)
    ticket = slack.post_ticket(text)
    slack.open(cast.AGENT)
    message = slack.message(text)
    suggestion = message.locator(".block-actions").first.get_by_role("button").first
    label = suggestion.inner_text().rsplit(" ", 1)[0]
    suggestion.click()

    expect(message).to_contain_text(f"✅  {label} — chosen by @{cast.AGENT.real_name}")
    expect(slack.button(message, "Undo")).to_be_visible()
    expect(message.get_by_role("button", name="Skip")).to_have_count(0)
    decided = slack.api("GET", f"/api/tickets/{ticket['id']}")
    assert (decided["status"], decided["label"], decided["decided_by"]) == (
        "labelled",
        label,
        cast.AGENT.id,
    )

    slack.button(message, "Undo").click()
    expect(message.get_by_role("button", name="Skip")).to_be_visible()
    expect(message).not_to_contain_text("chosen by")
    undone = slack.api("GET", f"/api/tickets/{ticket['id']}")
    assert (undone["status"], undone["label"]) == ("pending", None)


def test_skip_names_who_skipped_and_leaves_the_buttons(slack: SlackPage) -> None:
    text = unique(CARD)
    slack.post_ticket(text)
    slack.open(cast.OTHER_AGENT)
    message = slack.message(text)
    slack.button(message, "Skip").click()
    expect(message).to_contain_text(f"skipped by @{cast.OTHER_AGENT.real_name}")
    expect(slack.button(message, "Skip")).to_be_visible()


def test_the_select_offers_every_label_and_labels_the_ticket(slack: SlackPage) -> None:
    text = unique(CARD)
    ticket = slack.post_ticket(text)
    slack.open(cast.AGENT)
    message = slack.message(text)
    message.get_by_role("button", name="Pick another label").click()
    options = message.get_by_role("option")
    expect(options).to_have_count(77)  # every label of the Banking77 sample, alphabetically
    names = options.all_inner_texts()
    assert names == sorted(names)
    message.get_by_role("combobox").fill("lost_or")
    message.get_by_role("option", name="lost_or_stolen_card", exact=True).click()
    expect(message).to_contain_text(f"lost_or_stolen_card — chosen by @{cast.AGENT.real_name}")
    assert slack.api("GET", f"/api/tickets/{ticket['id']}")["label"] == "lost_or_stolen_card"


def test_only_the_chooser_may_undo(slack: SlackPage) -> None:
    text = unique(CARD)
    slack.post_ticket(text)
    slack.open(cast.AGENT)
    slack.pick(slack.message(text), "Pick another label", "card_arr", "card_arrival")
    expect(slack.message(text)).to_contain_text("card_arrival — chosen by")

    slack.open(cast.OTHER_AGENT)
    slack.button(slack.message(text), "Undo").click()
    refusal = slack.private("can undo it")
    expect(refusal).to_contain_text(f"Only @{cast.AGENT.real_name}, who chose card_arrival")
    expect(slack.message(text)).to_contain_text(f"chosen by @{cast.AGENT.real_name}")


def test_an_audit_is_blind_and_answered(slack: SlackPage) -> None:
    set_policy(slack.factory, THRESHOLD, 0.0)  # everything is confident...
    set_policy(slack.factory, AUDIT_RATE, 1.0)  # ...and every confident ticket is audited
    text = unique("How do I top up with Apple Pay?")
    ticket = slack.post_ticket(text)
    assert ticket["decision"] == "audit"
    slack.open(cast.AGENT)
    message = slack.message(text)
    expect(message).to_contain_text("🔎  Audit · Ticket")
    expect(message).to_contain_text("The model's answer is hidden on purpose.")
    expect(message).not_to_contain_text("%")  # no suggestion, no probability
    slack.pick(message, "Pick a label", "apple", "apple_pay_or_google_pay")
    expect(message).to_contain_text("apple_pay_or_google_pay — chosen by")
    expect(message).to_contain_text("model had applied")
    answered = slack.api("GET", f"/api/tickets/{ticket['id']}")
    assert answered["decided_by"] == cast.AGENT.id


def test_triage_stats_answers_privately(slack: SlackPage) -> None:
    slack.open(cast.AGENT)
    slack.send("/triage stats")
    answer = slack.private("Last 7 days:")
    expect(answer).to_contain_text("Only visible to you")
    expect(answer).to_contain_text("/triage stats")
    expect(answer).to_contain_text("Waiting for review now:")
    slack.open(cast.OTHER_AGENT)  # someone else never sees it
    expect(
        slack.page.locator("li.message.ephemeral").filter(has_text="Last 7 days:")
    ).to_have_count(0)


def test_a_non_admin_is_refused_the_threshold(slack: SlackPage) -> None:
    slack.open(cast.AGENT)
    slack.send("/triage threshold 0.9")
    answer = slack.private("Only triage admins can use /triage threshold")
    expect(answer).to_contain_text(f"Ask @{cast.ADMIN.real_name}")


def test_a_route_channel_joins_the_sidebar_and_gets_the_label_s_tickets(
    slack: SlackPage,
) -> None:
    slack.open(cast.ADMIN)
    slack.send("/triage labels route card_arrival #cards")
    slack.private("card_arrival")
    cards = slack.page.get_by_role("navigation").get_by_role("link", name="# cards")
    expect(cards).to_be_visible()

    text = unique(CARD)
    slack.post_ticket(text)
    slack.open(cast.AGENT)
    slack.pick(slack.message(text), "Pick another label", "card_arr", "card_arrival")
    cards.click()
    expect(slack.page.get_by_role("heading", name="# cards")).to_be_visible()
    routed = slack.page.locator("li.message").filter(has_text=text)
    expect(routed).to_contain_text(f"card_arrival by @{cast.AGENT.real_name}")


def test_app_home_for_an_admin_and_for_an_agent(slack: SlackPage) -> None:
    slack.open(cast.ADMIN, "home")
    home = slack.page.get_by_role("region", name="App Home")
    expect(home).to_contain_text("Ticket triage")
    expect(home).to_contain_text("🟢 running · model v1")
    expect(home.get_by_role("button", name="Retrain now")).to_be_visible()
    expect(home.get_by_role("button", name="Pause automatic labels")).to_be_visible()

    slack.page.get_by_label("Acting as").select_option(cast.AGENT.id)
    expect(slack.page.locator("body")).to_have_attribute("data-user", cast.AGENT.id)
    expect(home).to_contain_text("Your week")
    expect(home.get_by_role("button", name="Retrain now")).to_have_count(0)


def test_app_home_links_to_the_waiting_message(slack: SlackPage) -> None:
    slack.post_ticket(unique(CARD))
    slack.open(cast.AGENT, "home")
    home = slack.page.get_by_role("region", name="App Home")
    oldest = home.get_by_role("link", name=re.compile(r"^Ticket #\d+$")).first
    name = oldest.inner_text()
    oldest.click()
    expect(slack.page.get_by_role("heading", name="# triage-review")).to_be_visible()
    expect(slack.message(f"{name} · zendesk")).to_have_class(re.compile(r"\blinked\b"))


def test_an_intake_message_is_answered_in_its_thread(slack: SlackPage) -> None:
    text = unique("My card payment was declined twice at the supermarket")
    slack.open(cast.OTHER_AGENT, INTAKE)
    slack.send(text, INTAKE)
    message = slack.message(text, INTAKE)
    expect(message).to_contain_text(cast.OTHER_AGENT.real_name)
    thread = message.get_by_role("button", name="1 reply")
    thread.click()
    expect(thread).to_have_attribute("aria-expanded", "true")
    reply = message.locator("li.message.reply")
    expect(reply).to_contain_text("a person will pick the label in #triage-review")
    assert reply.get_attribute("data-thread-ts") == message.get_attribute("data-ts")
    slack.open(cast.AGENT, REVIEW)
    slack.message(text)  # and it is a ticket waiting in review


def test_invalid_block_kit_is_refused_visibly(slack: SlackPage) -> None:
    fake = slack.sandbox.fake
    client = WebClient(token=next(iter(fake.tokens)), base_url=fake.base_url)
    button = {"type": "button", "action_id": "x", "text": {"type": "mrkdwn", "text": "x"}}
    bad = [{"type": "actions", "elements": [button]}]
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=ALERTS, text="t", blocks=bad)
    assert refused.value.response["error"] == "invalid_blocks"
    slack.open(cast.ADMIN, ALERTS)
    problem = slack.page.get_by_role("alert").filter(has_text="Slack refused chat.postMessage")
    expect(problem).to_contain_text("invalid_blocks")
    expect(problem).to_contain_text("text type 'mrkdwn' is not one of ('plain_text',)")


def test_page_requests_only_from_loopback_as_json(slack: SlackPage) -> None:
    url = f"{slack.sandbox.url}sandbox/message"
    body = json.dumps({"user": cast.AGENT.id, "channel": REVIEW, "text": "hi"}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    form = urllib.request.Request(url, data=body, headers={"Content-Type": "text/plain"})
    try:
        opener.open(form, timeout=5)
        raise AssertionError("a cross-site form post was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 415

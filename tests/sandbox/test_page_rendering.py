"""The page draws any Slack app's Block Kit and carries its interactions, modals included.

A small Bolt app of the test's own, not triage-loop, sends every block kind and mrkdwn form
the page must draw, opens, validates, pushes and closes modals, and serves an external
select: the page must handle what the app will need later, not only what it sends today.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, expect
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from bot.sandbox import cast
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack.page import Page as SlackPage
from bot.sandbox.slack.people import AppLink, People
from tests.sandbox.driver import REVIEW

TOKEN = "xoxb-render"
SECRET = "render-secret"
MOMENT = 1_700_000_000  # Tuesday 14 November 2023, 22:13:20 UTC
TEXT = (
    "*bold* _italic_ ~strike~ `code` <https://example.com/a?b=1&amp;c=2|a link> "
    "<@U01SAM> <#C01REVIEW> <!subteam^S0TEAM|@leads> <!here> :white_check_mark: "
    f"<!date^{MOMENT}^{{date_num}}|2023-11-14> a &lt;b&gt; &amp; c\n> quoted line\n```pre *x*```"
)
MODAL = {
    "type": "modal",
    "callback_id": "ask",
    "title": {"type": "plain_text", "text": "New label"},
    "submit": {"type": "plain_text", "text": "Create"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "Label name"},
            "element": {"type": "plain_text_input", "action_id": "name"},
        },
        {
            "type": "input",
            "block_id": "kind",
            "optional": True,
            "label": {"type": "plain_text", "text": "Like"},
            "element": {
                "type": "external_select",
                "action_id": "search",
                "min_query_length": 1,
                "placeholder": {"type": "plain_text", "text": "Search labels"},
            },
        },
    ],
}


def kitchen_sink() -> list[dict[str, Any]]:
    """One of each block kind the page draws, with styled and confirmed buttons."""
    confirm = {
        "title": {"type": "plain_text", "text": "Sure?"},
        "text": {"type": "mrkdwn", "text": "This opens a *modal*."},
        "confirm": {"type": "plain_text", "text": "Open it"},
        "deny": {"type": "plain_text", "text": "Not now"},
    }
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Header :tada:"}},
        {"type": "section", "block_id": "text", "text": {"type": "mrkdwn", "text": TEXT}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Field one*"},
                {"type": "plain_text", "text": "Field two"},
            ],
        },
        {"type": "divider"},
        {"type": "image", "image_url": "https://example.com/i.png", "alt_text": "a chart"},
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_quote", "elements": [{"type": "text", "text": "rich quote"}]}
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "context _small_"}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Open modal"},
                    "confirm": confirm,
                },
                {
                    "type": "button",
                    "action_id": "danger",
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Delete"},
                },
            ],
        },
    ]


def bolt_app(fake: FakeSlack, submissions: list[dict[str, Any]]) -> Starlette:
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=fake.base_url), signing_secret=SECRET
    )

    @app.command("/render")
    async def render(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(
            channel=command["channel_id"], text="every block", blocks=kitchen_sink()
        )

    @app.action("open")
    async def open_modal(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.options("search")
    async def search(ack: Any, payload: dict[str, Any]) -> None:
        names = ["card_arrival", "card_linking", "cash_withdrawal"]
        hits = [n for n in names if payload["value"] in n]
        await ack(options=[{"text": {"type": "plain_text", "text": n}, "value": n} for n in hits])

    @app.view("ask")
    async def submitted(ack: Any, view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        name = values["name"]["name"]["value"]
        submissions.append(values)
        if name == "bad":
            await ack(response_action="errors", errors={"name": "Not that one"})
        elif name == "more":
            second = {
                "type": "modal",
                "callback_id": "second",
                "title": {"type": "plain_text", "text": "Second step"},
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Pushed"}}],
            }
            await ack(response_action="push", view=second)
        else:
            await ack()

    handler = AsyncSlackRequestHandler(app)

    async def endpoint(request: Request) -> Any:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])


@pytest.fixture
def page(browser: Any, no_proxy: None) -> Iterator[tuple[Page, FakeSlack, list[dict[str, Any]]]]:
    submissions: list[dict[str, Any]] = []
    fake = FakeSlack(tokens=(TOKEN,), users=cast.users(), channels=cast.channels(), real_time=True)
    with fake:
        config = uvicorn.Config(
            bolt_app(fake, submissions), host="127.0.0.1", port=0, log_config=None
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="render-app")
        thread.start()
        try:
            fake.wait_until(lambda: server.started, 10.0, "the test app to start")
            port = server.servers[0].sockets[0].getsockname()[1]
            link = AppLink(f"http://127.0.0.1:{port}/slack/events", SECRET)
            people = People(fake, link, commands=("/render",))
            fake.page = SlackPage(fake, people, people=[p.id for p in cast.PEOPLE])
            context = browser.new_context()
            tab = context.new_page()
            tab.goto(f"{fake.url}/?as={cast.AGENT.id}&place={REVIEW}")
            yield tab, fake, submissions
            context.close()
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def test_every_block_kind_and_mrkdwn_form_is_drawn(
    page: tuple[Page, FakeSlack, list[dict[str, Any]]],
) -> None:
    tab, _, _ = page
    tab.get_by_role("textbox", name="Message #triage-review").fill("/render")
    tab.keyboard.press("Enter")
    message = tab.locator(f'li.message[data-channel="{REVIEW}"]').filter(has_text="Header")
    expect(message).to_have_count(1)
    assert message.get_attribute("data-ts")
    expect(message.locator(".header")).to_have_text("Header 🎉")
    text = message.locator('[data-block-id="text"]')
    expect(text.locator("b")).to_have_text("bold")
    expect(text.locator("i")).to_have_text("italic")
    expect(text.locator("s")).to_have_text("strike")
    expect(text.locator("code")).to_have_text("code")
    expect(text.get_by_role("link", name="a link")).to_have_attribute(
        "href", "https://example.com/a?b=1&c=2"
    )
    expect(text).to_contain_text(f"@{cast.AGENT.real_name} #triage-review @leads @here ✅")
    expect(text.locator("time")).to_have_text("2023-11-14")
    expect(text).to_contain_text("a <b> & c")
    expect(text.locator("blockquote")).to_have_text("quoted line")
    expect(text.locator("pre")).to_have_text("pre *x*")  # no formatting inside code blocks
    expect(message.locator(".fields b")).to_have_text("Field one")
    expect(message.get_by_role("img", name="a chart")).to_be_visible()
    expect(message.locator("blockquote").filter(has_text="rich quote")).to_be_visible()
    expect(message.locator(".block-context i")).to_have_text("small")
    expect(message.get_by_role("button", name="Open modal")).to_have_class("btn primary")
    expect(message.get_by_role("button", name="Delete")).to_have_class("btn danger")


def test_confirm_then_modal_errors_push_and_close(
    page: tuple[Page, FakeSlack, list[dict[str, Any]]],
) -> None:
    tab, fake, submissions = page
    tab.get_by_role("textbox", name="Message #triage-review").fill("/render")
    tab.keyboard.press("Enter")
    tab.get_by_role("button", name="Open modal").click()
    confirm = tab.get_by_role("alertdialog", name="Sure?")
    expect(confirm).to_contain_text("This opens a modal.")
    confirm.get_by_role("button", name="Not now").click()
    expect(confirm).to_have_count(0)

    tab.get_by_role("button", name="Open modal").click()
    tab.get_by_role("alertdialog", name="Sure?").get_by_role("button", name="Open it").click()
    modal = tab.get_by_role("dialog", name="New label")
    expect(modal).to_be_visible()

    modal.get_by_role("button", name="Create").click()  # the required field is empty
    expect(modal.get_by_role("alert")).to_have_text("Please complete this required field.")
    assert not submissions  # Slack's client checks that itself

    modal.get_by_role("textbox", name="Label name").fill("bad")
    modal.get_by_role("button", name="Search labels").click()
    modal.get_by_role("combobox").fill("card")
    modal.get_by_role("option", name="card_linking").click()
    modal.get_by_role("button", name="Create").click()
    expect(modal.get_by_role("alert")).to_have_text("Not that one")
    assert submissions[-1]["kind"]["search"]["selected_option"]["value"] == "card_linking"

    modal.get_by_role("textbox", name="Label name").fill("more")
    modal.get_by_role("button", name="Create").click()
    second = tab.get_by_role("dialog", name="Second step")
    expect(second).to_contain_text("Pushed")
    second.get_by_role("button", name="Close", exact=True).click()
    expect(tab.get_by_role("dialog", name="New label")).to_be_visible()  # back to the first

    tab.get_by_role("dialog", name="New label").get_by_role("textbox", name="Label name").fill(
        "vault"
    )
    tab.get_by_role("button", name="Create").click()
    expect(tab.get_by_role("dialog")).to_have_count(0)
    assert submissions[-1]["name"]["name"]["value"] == "vault"
    assert len(fake.calls_to("views.open")) == 1  # "Not now" sent nothing

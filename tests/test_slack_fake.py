"""Self-test of the Slack test harness against the real slack_sdk and slack_bolt code."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.parse
from typing import Any

import aiohttp
import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers, builtin_handlers
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from bot.sandbox.slack import (
    APP_TOKEN,
    FakeSlack,
    assert_valid_message,
    assert_valid_view,
    sign,
    signed_app_home_opened,
    signed_block_action,
    signed_block_suggestion,
    signed_event,
    signed_slash_command,
    signed_url_verification,
    signed_view_submission,
    slash_command_fields,
)
from bot.sandbox.slack.waiting import wait_until

TOKEN = "xoxb-test"
BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "*Ticket 42*"}},
    {
        "type": "actions",
        "block_id": "b",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "42",
            },
            {
                "type": "static_select",
                "action_id": "route",
                "placeholder": {"type": "plain_text", "text": "Route to"},
                "options": [
                    {"text": {"type": "plain_text", "text": "Billing"}, "value": "billing"},
                    {"text": {"type": "plain_text", "text": "Bugs"}, "value": "bugs"},
                ],
            },
        ],
    },
]


def client_for(fake: FakeSlack, **kwargs: Any) -> WebClient:
    """A real sync client pointed at the fake."""
    return WebClient(token=TOKEN, base_url=fake.base_url, **kwargs)


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk sleeps Retry-After + random(); remove the random part to keep tests quick."""
    monkeypatch.setattr(builtin_handlers.random, "random", lambda: 0.0)


# -- Web API with the real clients -------------------------------------------------------------


def test_sync_client_posts_updates_and_fake_records(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    posted = client.chat_postMessage(channel="C1", text="Ticket 42", blocks=BLOCKS)
    assert posted["ts"] == "1700000000.000100"
    assert posted["message"]["blocks"] == BLOCKS
    client.chat_update(channel="C1", ts=posted["ts"], text="Approved", blocks=BLOCKS[:1])
    second = client.chat_postMessage(channel="C2", text="other")
    assert float(second["ts"]) > float(posted["ts"])

    [message] = fake_slack.messages("C1")
    assert message["text"] == "Approved" and message["blocks"] == BLOCKS[:1]
    assert len(fake_slack.messages()) == 2
    call = fake_slack.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == BLOCKS
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert not call.faulty and call.ok


def test_sync_client_other_methods(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    assert client.auth_test()["user_id"] == "UBOT"
    ts = client.chat_postMessage(channel="C1", text="t")["ts"]
    link = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link == "https://fake.slack/archives/C1/p1700000000000100"
    assert client.chat_postEphemeral(channel="C1", user="U1", text="psst")["message_ts"]
    assert client.users_info(user="U1")["user"]["real_name"] == "User U1"
    assert client.conversations_info(channel="C1")["channel"]["name"] == "channel-c1"
    client.reactions_add(channel="C1", timestamp=ts, name="eyes")
    view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    assert client.views_open(trigger_id="1.2.3", view=view)["view"]["id"].startswith("V")
    client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert fake_slack.home_views["U1"]["type"] == "home"
    assert fake_slack.messages("C1")[0]["reactions"][0]["name"] == "eyes"
    assert fake_slack.ephemerals[0]["text"] == "psst"


def test_configured_identity_users_and_channels(no_proxy: None) -> None:
    users = {"U9": {"name": "bob", "real_name": "Bob B"}}
    with FakeSlack(
        bot_user_id="UX", team_id="T9", users=users, channels={"C9": {"name": "ops"}}
    ) as fake:
        client = client_for(fake)
        assert client.auth_test()["team_id"] == "T9"
        assert client.users_info(user="U9")["user"]["name"] == "bob"
        assert client.conversations_info(channel="C9")["channel"]["name"] == "ops"


def test_form_encoded_json_strings_are_decoded(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    params = {"channel": "C1", "text": "t", "blocks": json.dumps(BLOCKS)}
    client.api_call("chat.postMessage", params=params)
    call = fake_slack.calls_to("chat.postMessage")[0]
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == BLOCKS


@pytest.mark.parametrize(("token", "error"), [(None, "not_authed"), ("xoxb-bad", "invalid_auth")])
def test_auth_failures(fake_slack: FakeSlack, token: str | None, error: str) -> None:
    client = WebClient(token=token, base_url=fake_slack.base_url)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="t")
    assert info.value.response["error"] == error


def test_business_errors(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_update(channel="C1", ts="1.2", text="x")
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("chat.scheduleMessage", json={"channel": "C1"})


def test_async_client(fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        client = AsyncWebClient(token=TOKEN, base_url=fake_slack.base_url)
        posted = await client.chat_postMessage(channel="C1", text="hi", blocks=BLOCKS)
        await client.chat_update(channel="C1", ts=posted["ts"], text="bye")
        user = await client.users_info(user="U1")
        assert user["user"]["id"] == "U1"

    asyncio.run(scenario())
    assert fake_slack.messages("C1")[0]["text"] == "bye"
    assert fake_slack.calls_to("chat.postMessage")[0].params["blocks"] == BLOCKS


# -- fault injection ---------------------------------------------------------------------------


def test_429_is_retried_by_rate_limit_handler(fake_slack: FakeSlack, no_jitter: None) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    client = client_for(fake_slack)
    client.retry_handlers.append(builtin_handlers.RateLimitErrorRetryHandler(max_retry_count=1))
    assert client.chat_postMessage(channel="C1", text="t")["ok"]
    first, second = fake_slack.calls_to("chat.postMessage")
    assert first.faulty and first.status == 429 and first.response["error"] == "ratelimited"
    assert not second.faulty and second.ok
    assert second.time - first.time >= 0.9  # Retry-After was honoured
    assert len(fake_slack.messages()) == 1


def test_429_is_retried_by_async_handler(fake_slack: FakeSlack, monkeypatch: Any) -> None:
    monkeypatch.setattr(builtin_async_handlers.random, "random", lambda: 0.0)
    fake_slack.fail_next("chat.postMessage", retry_after=0)

    async def scenario() -> None:
        client = AsyncWebClient(token=TOKEN, base_url=fake_slack.base_url)
        client.retry_handlers.append(builtin_async_handlers.AsyncRateLimitErrorRetryHandler())
        await client.chat_postMessage(channel="C1", text="t")

    asyncio.run(scenario())
    assert [c.faulty for c in fake_slack.calls_to("chat.postMessage")] == [True, False]


def test_429_without_handler_surfaces_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client_for(fake_slack).chat_postMessage(channel="C1", text="t")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"


def test_500_and_count(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=500, count=2)
    client = client_for(fake_slack)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C1", text="t")
        assert info.value.response.status_code == 500
    assert client.chat_postMessage(channel="C1", text="t")["ok"]
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [500, 500, 200]


def test_injected_error_with_200(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as info:
        client_for(fake_slack).chat_postMessage(channel="C1", text="t")
    assert info.value.response.status_code == 200
    assert info.value.response["error"] == "channel_not_found"


def test_outage(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    fake_slack.set_down(True)
    with pytest.raises(SlackApiError) as info:
        client.auth_test()
    assert info.value.response.status_code == 503
    fake_slack.set_down(False)
    assert client.auth_test()["ok"]
    assert [c.faulty for c in fake_slack.calls_to("auth.test")] == [True, False]


def test_async_client_sees_500(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("*", status=500)

    async def scenario() -> None:
        with pytest.raises(SlackApiError) as info:
            await AsyncWebClient(token=TOKEN, base_url=fake_slack.base_url).auth_test()
        assert info.value.response.status_code == 500

    asyncio.run(scenario())


# -- response_url, waiting, lifecycle ----------------------------------------------------------


def test_response_url_is_recorded_and_replaces_original(fake_slack: FakeSlack) -> None:
    ts = client_for(fake_slack).chat_postMessage(channel="C1", text="old", blocks=BLOCKS)["ts"]
    url = fake_slack.new_response_url(channel="C1", message_ts=ts)
    assert url.startswith(f"http://127.0.0.1:{fake_slack.port}/response/")
    response = WebhookClient(url).send(text="Approved by <@U1>", replace_original=True)
    assert response.status_code == 200 and json.loads(response.body) == {"ok": True}
    [body] = fake_slack.wait_for_response(url=url)
    assert body["replace_original"] is True
    assert fake_slack.messages("C1")[0]["text"] == "Approved by <@U1>"
    assert "blocks" not in fake_slack.messages("C1")[0]


def test_every_message_is_checked_as_slack_checks_it(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    broken = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    ts = client.chat_postMessage(channel="C1", text="good", blocks=BLOCKS)["ts"]
    attempts = [
        lambda: client.chat_postMessage(channel="C1", text="t", blocks=broken),
        lambda: client.chat_update(channel="C1", ts=ts, text="t", blocks=broken),
        lambda: client.chat_postEphemeral(channel="C1", user="U1", text="t", blocks=broken),
    ]
    for attempt in attempts:
        with pytest.raises(SlackApiError) as info:
            attempt()
        assert info.value.response["error"] == "invalid_blocks"
        assert "3001 chars, limit is 3000" in info.value.response["errors"][0]
    hook = WebhookClient(fake_slack.new_response_url(channel="C1", message_ts=ts))
    assert hook.send(text="t", blocks=broken, replace_original=True).status_code == 400
    assert fake_slack.responses == [] and fake_slack.ephemerals == []
    [kept] = fake_slack.messages("C1")
    assert kept["text"] == "good" and kept["blocks"] == BLOCKS  # nothing refused got through
    with pytest.warns(UserWarning, match="top-level `text`"):
        assert client.chat_postMessage(channel="C1", blocks=BLOCKS)["ok"]  # Slack posts it
    methods = ["chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"]
    assert [method for method, _ in fake_slack.message_problems] == [*methods, "chat.postMessage"]
    assert "fallback text is missing" in fake_slack.message_problems[-1][1]
    fake_slack.message_problems.clear()  # seen: the fixture would fail the test otherwise


def test_callback_urls_take_any_json_and_can_fail(fake_slack: FakeSlack) -> None:
    url = fake_slack.new_callback_url()
    fake_slack.fail_next("callback", status=500)
    fake_slack.set_down(True)  # a Slack outage is not the caller's server being down
    assert httpx.post(url, json={"id": 1}, trust_env=False).status_code == 500
    assert httpx.post(url, json={"id": 1, "label": "x"}, trust_env=False).status_code == 200
    assert fake_slack.wait_for_callback(url=url) == [{"id": 1, "label": "x"}]
    assert fake_slack.message_problems == [] and fake_slack.responses == []
    missing = url.rsplit("/", 1)[0] + "/H9999"
    assert httpx.post(missing, json={}, trust_env=False).status_code == 404


def test_response_url_fault(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("response_url", status=500)
    url = fake_slack.new_response_url()
    assert WebhookClient(url).send(text="x").status_code == 500
    assert fake_slack.responses == []
    assert fake_slack.calls_to("response_url")[0].faulty


def test_wait_for_sees_calls_from_other_threads(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    worker = threading.Thread(target=lambda: client.chat_postMessage(channel="C1", text="late"))
    worker.start()
    [call] = fake_slack.wait_for(lambda c: c.method == "chat.postMessage" and c.ok, timeout=5)
    worker.join()
    assert call.params["text"] == "late"


def test_wait_for_timeout_lists_calls(fake_slack: FakeSlack) -> None:
    client_for(fake_slack).auth_test()
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"1 x chat.update(.|\n)*auth.test -> 200"):
        fake_slack.wait_for("chat.update", timeout=0.2)
    assert time.monotonic() - started < 2


def test_reset(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    client.chat_postMessage(channel="C1", text="t")
    fake_slack.fail_next("auth.test")
    fake_slack.reset()
    assert fake_slack.calls == [] and fake_slack.messages() == []
    assert client.auth_test()["ok"]  # pending fault was dropped too
    assert client.chat_postMessage(channel="C1", text="t")["ts"] == "1700000000.000100"


def test_stop_releases_the_port(no_proxy: None) -> None:
    fake = FakeSlack().start()
    base_url = fake.base_url
    fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.post(base_url + "auth.test")


# -- Socket Mode -------------------------------------------------------------------------------


def test_connections_open_needs_the_app_level_token(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    for token, error in [(TOKEN, "not_allowed_token_type"), ("xapp-other", "invalid_auth")]:
        with pytest.raises(SlackApiError) as info:
            client.apps_connections_open(app_token=token)
        assert info.value.response["error"] == error
    url = client.apps_connections_open(app_token=APP_TOKEN)["url"]
    port = fake_slack.socket_mode.port
    assert port != fake_slack.port
    assert re.fullmatch(rf"ws://127\.0\.0\.1:{port}/link/\?ticket=\w+", url)
    assert fake_slack.socket_connections == []


def test_socket_refuses_tickets_it_did_not_issue(fake_slack: FakeSlack) -> None:
    url = client_for(fake_slack).apps_connections_open(app_token=APP_TOKEN)["url"]
    forged = url.split("?")[0] + "?ticket=forged"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(forged)
            assert info.value.status == 401

    asyncio.run(scenario())
    assert fake_slack.socket_connections == []


async def _until(condition: Any, what: str, timeout: float = 5.0) -> None:
    """Let the event loop run while `condition()` is awaited in a thread (the one wait)."""
    await asyncio.to_thread(wait_until, condition, timeout=timeout, what=what)


def test_socket_mode_client_is_greeted_served_and_reconnected(fake_slack: FakeSlack) -> None:
    seen: list[dict[str, Any]] = []
    fields = slash_command_fields(text="help", user_id="U1", response_url="http://127.0.0.1:1/r")

    async def on_message(_client: Any, message: dict[str, Any], _raw: str | None) -> None:
        seen.append(message)

    async def on_request(client: Any, request: SocketModeRequest) -> None:
        text = f"{request.payload['command']} {request.payload['text']}"
        reply = SocketModeResponse(request.envelope_id, payload={"text": text})
        await client.send_socket_mode_response(reply)

    async def scenario() -> None:
        web_client = AsyncWebClient(base_url=fake_slack.base_url)
        client = SocketModeClient(APP_TOKEN, web_client=web_client, ping_interval=1)
        client.message_listeners.append(on_message)
        client.socket_mode_request_listeners.append(on_request)
        try:
            await client.connect()
            await asyncio.to_thread(fake_slack.wait_for_socket)
            await _until(lambda: seen, "the hello message")
            assert seen[0]["type"] == "hello" and seen[0]["num_connections"] == 1
            assert seen[0]["connection_info"] == {"app_id": "A0001"}
            await _until(lambda: client.last_ping_pong_time is not None, "a pong")

            envelope_id = await asyncio.to_thread(
                fake_slack.send_envelope, "slash_commands", fields, accepts_response_payload=True
            )
            ack = await asyncio.to_thread(fake_slack.wait_for_ack, envelope_id)
            assert ack == {"envelope_id": envelope_id, "payload": {"text": "/triage help"}}
            [envelope] = [m for m in seen if m.get("envelope_id") == envelope_id]
            assert envelope["type"] == "slash_commands" and envelope["payload"] == fields

            await asyncio.to_thread(fake_slack.send_disconnect)
            await asyncio.to_thread(
                fake_slack.wait_until,
                lambda: [c.open for c in fake_slack.socket_mode.connections] == [False, True],
                what="a new connection replacing the old",
            )
        finally:
            await client.close()

    asyncio.run(scenario())
    fake_slack.wait_until(
        lambda: not any(c.open for c in fake_slack.socket_mode.connections), what="all closed"
    )
    first, second = fake_slack.socket_connections
    assert first.ticket != second.ticket
    assert len(fake_slack.calls_to("apps.connections.open")) == 2
    assert fake_slack.calls_to("apps.connections.open")[0].headers["authorization"] == (
        f"Bearer {APP_TOKEN}"
    )


# -- signing -----------------------------------------------------------------------------------


def _verify(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """Check with slack_sdk's own verifier, as bolt does."""
    return SignatureVerifier(secret).is_valid_request(body, headers)


def test_every_builder_signs_like_slack(slack_signing_secret: str) -> None:
    url = "http://127.0.0.1:1/response/R0001"
    built = [
        signed_event(slack_signing_secret, {"type": "app_mention", "text": "hi", "user": "U1"}),
        signed_url_verification(slack_signing_secret, "abc"),
        signed_app_home_opened(slack_signing_secret, user_id="U1"),
        signed_block_action(
            slack_signing_secret,
            user_id="U1",
            action_id="approve",
            value="42",
            channel_id="C1",
            message_ts="1.2",
            response_url=url,
        ),
        signed_block_suggestion(slack_signing_secret, user_id="U1", action_id="q", value="bil"),
        signed_slash_command(slack_signing_secret, text="help", user_id="U1", response_url=url),
        signed_view_submission(
            slack_signing_secret, user_id="U1", view={"type": "modal"}, values={}
        ),
    ]
    for body, headers in built:
        assert _verify(slack_signing_secret, body, headers)
        assert not _verify("other-secret", body, headers)


def test_stale_and_tampered_requests_fail(slack_signing_secret: str) -> None:
    body, _ = signed_event(slack_signing_secret, {"type": "app_mention"})
    stale = sign(slack_signing_secret, body, int(time.time()) - 301)
    assert not _verify(slack_signing_secret, body, stale)
    fresh = sign(slack_signing_secret, body, int(time.time()))
    assert _verify(slack_signing_secret, body, fresh)
    assert not _verify(slack_signing_secret, body + b" ", fresh)


def test_event_envelope_and_retry_headers(slack_signing_secret: str) -> None:
    event = {"type": "message", "text": "hi", "user": "U1", "channel": "C1", "ts": "1.2"}
    body, headers = signed_event(slack_signing_secret, event, event_id="Ev1", retry_num=1)
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev1"
    assert envelope["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": "T0001",
        "user_id": "UBOT",
        "is_bot": True,
        "is_enterprise_install": False,
    }
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Slack-Retry-Num"] == "1"
    assert headers["X-Slack-Retry-Reason"] == "http_timeout"


def test_block_action_payload_shapes(slack_signing_secret: str) -> None:
    message = {"text": "Ticket 42", "blocks": BLOCKS}
    common: dict[str, Any] = {
        "user_id": "U1",
        "channel_id": "C1",
        "message_ts": "1.2",
        "message": message,
        "response_url": "http://x/response/R1",
    }
    body, headers = signed_block_action(
        slack_signing_secret, action_id="route", selected_option_value="bugs", **common
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.2",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"] == BLOCKS
    [action] = payload["actions"]
    assert action["type"] == "static_select"
    assert action["selected_option"]["text"]["text"] == "Bugs"

    body, _ = signed_block_action(slack_signing_secret, action_id="approve", value="42", **common)
    [action] = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])["actions"]
    assert (action["type"], action["value"], action["text"]["text"]) == ("button", "42", "Approve")


def test_slash_command_fields(slack_signing_secret: str) -> None:
    body, _ = signed_slash_command(
        slack_signing_secret, text="status 42", user_id="U1", response_url="http://x/r"
    )
    fields = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
    assert {
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "response_url",
        "trigger_id",
    } <= set(fields)
    assert (fields["command"], fields["text"]) == ("/triage", "status 42")


# -- Block Kit limits --------------------------------------------------------------------------


def _button(action_id: str, text: str = "Go", value: str = "v") -> dict[str, Any]:
    """A minimal button element."""
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    }


def _section(text: str, **extra: Any) -> dict[str, Any]:
    """A minimal section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def _select(options: int, text: str = "o", value: str = "v") -> dict[str, Any]:
    """A static_select with `options` options."""
    opts = [
        {"text": {"type": "plain_text", "text": text}, "value": f"{value}{i}"}
        for i in range(options)
    ]
    return {"type": "static_select", "action_id": "sel", "options": opts}


def _msg(*blocks: dict[str, Any], text: str = "fallback") -> dict[str, Any]:
    """A message with fallback text and blocks."""
    return {"text": text, "blocks": list(blocks)}


BROKEN_MESSAGES = {
    "no fallback text": ({"blocks": [_section("x")]}, "fallback text"),
    "blank fallback text": (_msg(_section("x"), text="  "), "fallback text"),
    "51 blocks": (_msg(*[_section("x")] * 51), "51 blocks, limit is 50"),
    "26 buttons": (
        _msg({"type": "actions", "elements": [_button(f"a{i}") for i in range(26)]}),
        "26 elements",
    ),
    "11 context elements": (
        _msg({"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}),
        "11 elements",
    ),
    "long section text": (_msg(_section("x" * 3001)), "3001 chars, limit is 3000"),
    "long field": (
        _msg({"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}),
        "fields[0]: text is 2001 chars",
    ),
    "long header": (
        _msg({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}),
        "151 chars, limit is 150",
    ),
    "mrkdwn header": (
        _msg({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}),
        "text type 'mrkdwn'",
    ),
    "long button text": (
        _msg({"type": "actions", "elements": [_button("a", text="b" * 76)]}),
        "76 chars, limit is 75",
    ),
    "long button value": (
        _msg({"type": "actions", "elements": [_button("a", value="v" * 2001)]}),
        "button value is 2001 chars",
    ),
    "101 options": (_msg(_section("x", accessory=_select(101))), "101 options"),
    "long option text": (_msg(_section("x", accessory=_select(1, text="o" * 76))), "76 chars"),
    "long option value": (
        _msg(_section("x", accessory=_select(1, value="v" * 151))),
        "value is 152 chars, limit is 150",
    ),
    "duplicate action_id": (
        _msg({"type": "actions", "elements": [_button("a"), _button("a")]}),
        "duplicate action_id 'a'",
    ),
    "long action_id": (
        _msg({"type": "actions", "elements": [_button("a" * 256)]}),
        "action_id is 256 chars",
    ),
    "duplicate block_id": (
        _msg(_section("x", block_id="b"), _section("y", block_id="b")),
        "duplicate block_id 'b'",
    ),
    "bad text type": (
        _msg({"type": "section", "text": {"type": "markdown", "text": "x"}}),
        "text type 'markdown'",
    ),
}


@pytest.mark.parametrize(
    ("message", "reason"), list(BROKEN_MESSAGES.values()), ids=list(BROKEN_MESSAGES)
)
def test_assert_valid_message_rejects(message: dict[str, Any], reason: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(reason)):
        assert_valid_message(message)


def test_assert_valid_message_accepts_good_messages() -> None:
    assert_valid_message({"text": "Ticket 42", "blocks": BLOCKS})
    assert_valid_message({"text": "plain only"})
    limits = _msg(
        *[_section("x" * 3000)] * 49,
        {
            "type": "actions",
            "elements": [_button(f"a{i}", "b" * 75, "v" * 2000) for i in range(25)],
        },
    )
    assert_valid_message(limits)


def test_assert_valid_view() -> None:
    title = {"type": "plain_text", "text": "Triage"}
    assert_valid_view({"type": "modal", "title": title, "blocks": [_section("x")] * 100})
    assert_valid_view({"type": "home", "blocks": []})
    with pytest.raises(AssertionError, match="101 blocks, limit is 100"):
        assert_valid_view({"type": "home", "blocks": [_section("x")] * 101})
    with pytest.raises(AssertionError, match="title"):
        assert_valid_view({"type": "modal", "title": {"type": "plain_text", "text": "t" * 25}})


# -- end to end through slack_bolt -------------------------------------------------------------


def _bolt_asgi(fake: FakeSlack, secret: str) -> Any:
    """A tiny bolt app behind Starlette, wired to the fake like the project's app will be."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=fake.base_url), signing_secret=secret
    )

    @app.event("app_mention")
    async def mention(event: dict[str, Any], say: Any) -> None:
        await say(text=f"seen: {event['text']}", blocks=BLOCKS)

    @app.command("/triage")
    async def command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"status of {command['text']}")

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel, ts = body["container"]["channel_id"], body["container"]["message_ts"]
        await client.chat_update(channel=channel, ts=ts, text=f"approved by {body['user']['id']}")

    handler = AsyncSlackRequestHandler(app)

    async def endpoint(request: Request) -> Any:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])


def test_bolt_app_end_to_end(fake_slack: FakeSlack, slack_signing_secret: str) -> None:
    secret = slack_signing_secret
    api = _bolt_asgi(fake_slack, secret)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:

            async def send(signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
                body, headers = signed
                return await http.post("/slack/events", content=body, headers=headers)

            verified = await send(signed_url_verification(secret, "chal"))
            assert verified.status_code == 200 and verified.json() == {"challenge": "chal"}

            event = {"type": "app_mention", "user": "U1", "text": "help", "channel": "C1"}
            assert (await send(signed_event(secret, event))).status_code == 200
            [post] = await asyncio.to_thread(fake_slack.wait_for, "chat.postMessage")
            ts = post.response["ts"]

            url = fake_slack.new_response_url(channel="C1", message_ts=ts)
            command = signed_slash_command(secret, text="42", user_id="U1", response_url=url)
            assert (await send(command)).status_code == 200
            [reply] = await asyncio.to_thread(fake_slack.wait_for_response, url=url)
            assert reply["text"] == "status of 42"

            click = signed_block_action(
                secret,
                user_id="U2",
                action_id="approve",
                value="42",
                channel_id="C1",
                message_ts=ts,
                message=post.response["message"],
                response_url=url,
            )
            assert (await send(click)).status_code == 200
            await asyncio.to_thread(fake_slack.wait_for, "chat.update")

            body, headers = signed_event(secret, event)
            stale = {**headers, **sign(secret, body, int(time.time()) - 600)}
            assert (
                await http.post("/slack/events", content=body, headers=stale)
            ).status_code == 401

    asyncio.run(scenario())
    [message] = fake_slack.messages("C1")
    assert message["text"] == "approved by U2"
    assert_valid_message(fake_slack.calls_to("chat.postMessage")[0].params)
    assert len(fake_slack.calls_to("auth.test")) >= 1  # bolt authorizes via auth.test

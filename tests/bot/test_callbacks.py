"""Ticket callbacks as a helpdesk receives them: signed, identified, never sent inside the
network, never redirected, retried as the receiver asks, and given up (then retried by an
admin) when the receiver stays down. Against the fake receiver over real HTTP, on a clock the
test moves."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer
from bot.errors import SettingsError
from bot.sandbox.slack import FakeSlack, signed_slash_command
from bot.sandbox.slack.records import RecordedCall
from bot.sandbox.slack.waiting import wait_until
from bot.services.callback_signing import verify
from bot.settings import Settings
from storage.models import Alert, AuditLogEntry, OutboxKind, OutboxMessage, Ticket, TicketStatus
from storage.queries.outbox import enqueue, mark_dead
from tests.bot.conftest import (
    ALERTS_CHANNEL,
    Ran,
    RunningWeb,
    serving,
    web_settings,
)
from tests.jobs.conftest import START, Clock

BACKOFF = 2.0
ADMIN, MEMBER = "UADMIN", "UBOB"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def callback_settings(database_url: str, **env: str) -> Settings:
    """A deployment with an alerts channel and no callback allowance unless given."""
    return Settings.from_env(
        {"DATABASE_URL": database_url, "TRIAGE_ALERTS_CHANNEL": ALERTS_CHANNEL, **env},
        dotenv_path=None,
    )


def deliverer_for(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    fake: FakeSlack,
    resolve: Callable[..., list[tuple[Any, ...]]] = socket.getaddrinfo,
) -> Deliverer:
    client = WebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[])
    return Deliverer(factory, client, settings, now=clock, backoff_base=BACKOFF, resolve=resolve)


def decided_ticket(factory: sessionmaker[Session], now: datetime, callback_url: str) -> int:
    """A ticket the model labelled, with its callback queued; returns the outbox row id."""
    with factory.begin() as session:
        ticket = Ticket(
            text="Where is my card?",
            source="zendesk",
            external_id=f"zd-{callback_url[-12:]}-{now.timestamp()}",
            created_at=now,
            status=TicketStatus.AUTO,
            decision="auto",
            predicted_label="card_arrival",
            final_label="card_arrival",
            confidence=0.97,
            decided_at=now,
            callback_url=callback_url,
        )
        session.add(ticket)
        session.flush()
        message = enqueue(OutboxKind.CALLBACK, session=session, now=now, ticket_id=ticket.id)
        session.flush()
        return message.id


def row(factory: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with factory() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


def alert_posts(fake: FakeSlack) -> list[RecordedCall]:
    return [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == ALERTS_CHANNEL]


# -- refused destinations ------------------------------------------------------------------

REFUSED = [
    ("http://127.0.0.1:{port}/callback/H0001", "loopback"),
    ("http://[::1]:{port}/callback/H0001", "loopback"),
    ("http://10.0.0.8/hooks/triage", "private"),
    ("https://10.255.0.1:8443/hooks/triage", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://localhost:{port}/callback/H0001", "loopback"),  # a name that resolves inside
    ("http://[::ffff:10.0.0.8]/hooks/triage", "private"),  # IPv4 wrapped in IPv6
]


def test_internal_destinations_are_refused_at_intake_with_the_field_named(
    database_url: str, engine: Engine, fake_slack: FakeSlack, slack_signing_secret: str
) -> None:
    settings = web_settings(
        database_url, fake_slack, slack_signing_secret, TRIAGE_CALLBACK_ALLOW=""
    )
    port = fake_slack.url.rsplit(":", 1)[1]
    with serving(settings, engine, fake_slack) as web:
        for template, reason in REFUSED:
            url = template.format(port=port)
            response = web.api("POST", "/api/tickets", json={"text": "Card?", "callback_url": url})
            assert response.status_code == 422, (url, response.text)
            assert "callback_url" in response.text and reason in response.text, url
        for url in ("http://no-such-host.invalid/hook", "http://user:pw@example.com/hook"):
            response = web.api("POST", "/api/tickets", json={"text": "Card?", "callback_url": url})
            assert response.status_code == 422 and "callback_url" in response.text, url
        # Refused alone: in the same moment, a ticket without a callback is taken.
        assert web.api("POST", "/api/tickets", json={"text": "Card?"}).status_code == 201
    with engine.connect() as connection:
        assert connection.execute(select(Ticket.callback_url)).all() == [(None,)]


def test_a_network_or_host_named_in_the_allowance_is_accepted(
    database_url: str, engine: Engine, fake_slack: FakeSlack, slack_signing_secret: str
) -> None:
    allow = "10.0.0.0/8,localhost"
    settings = web_settings(
        database_url, fake_slack, slack_signing_secret, TRIAGE_CALLBACK_ALLOW=allow
    )
    with serving(settings, engine, fake_slack) as web:  # no model: no callback is due yet
        for url in ("http://10.1.2.3/hook", "http://localhost:9/hook"):
            response = web.api("POST", "/api/tickets", json={"text": "Card?", "callback_url": url})
            assert response.status_code == 201, response.text
        refused = web.api(
            "POST", "/api/tickets", json={"text": "Card?", "callback_url": "http://192.168.1.5/"}
        )
        assert refused.status_code == 422 and "private" in refused.text


@pytest.mark.parametrize(("template", "reason"), REFUSED)
def test_internal_destinations_are_refused_again_when_sent_and_given_up_at_once(
    factory: sessionmaker[Session],
    database_url: str,
    clock: Clock,
    fake_slack: FakeSlack,
    template: str,
    reason: str,
) -> None:
    """The host may have resolved outside at intake and inside now (DNS changed)."""
    fake_slack.new_callback_url()  # H0001 would accept it, were it sent
    url = template.format(port=fake_slack.url.rsplit(":", 1)[1])
    message_id = decided_ticket(factory, clock(), url)
    deliverer = deliverer_for(factory, callback_settings(database_url), clock, fake_slack)

    assert deliverer.run_once() == 1  # the alert; the callback was not sent
    assert fake_slack.calls_to("callback") == []
    dead = row(factory, message_id)
    assert dead.dead_at == START and dead.delivered_at is None
    assert dead.last_error is not None and dead.last_error.startswith("callback refused: ")
    assert reason in dead.last_error
    [alert] = alert_posts(fake_slack)
    assert "Helpdesk callback given up" in alert.params["text"]
    assert "/callback/" not in alert.params["text"] and "meta-data" not in alert.params["text"]
    clock.advance(hours=2)
    assert deliverer.run_once() == 0 and fake_slack.calls_to("callback") == []


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("to", ["another receiver", "the metadata address"])
def test_a_redirect_is_a_failed_attempt_and_is_never_followed(
    factory: sessionmaker[Session],
    database_url: str,
    clock: Clock,
    fake_slack: FakeSlack,
    status: int,
    to: str,
) -> None:
    url, elsewhere = fake_slack.new_callback_url(), fake_slack.new_callback_url()
    if to == "the metadata address":
        elsewhere = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    fake_slack.fail_next("callback", status, headers={"Location": elsewhere})
    message_id = decided_ticket(factory, clock(), url)
    settings = callback_settings(database_url, TRIAGE_CALLBACK_ALLOW="127.0.0.1")
    deliverer = deliverer_for(factory, settings, clock, fake_slack)

    assert deliverer.run_once() == 0
    failed = row(factory, message_id)
    assert failed.last_error == f"callback: HTTP {status}, a redirect (not followed)"
    assert failed.dead_at is None and failed.due_at == START + timedelta(seconds=BACKOFF)
    assert fake_slack.callbacks == []  # nothing reached where it pointed
    clock.moment = failed.due_at
    assert deliverer.run_once() == 1
    assert [url_id for url_id, _ in fake_slack.callbacks] == [url.rsplit("/", 1)[1]]
    assert len(fake_slack.calls_to("callback")) == 2  # both to the URL given, nowhere else


def test_the_checked_address_is_the_one_connected_to_with_the_host_name_kept(
    factory: sessionmaker[Session], database_url: str, clock: Clock, fake_slack: FakeSlack
) -> None:
    """Resolved once, then connected to: the Host header still names the URL's host."""
    port = int(fake_slack.url.rsplit(":", 1)[1])
    url = fake_slack.new_callback_url().replace("127.0.0.1", "helpdesk.test")
    looked_up: list[str] = []

    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    message_id = decided_ticket(factory, clock(), url)
    allowed = callback_settings(database_url, TRIAGE_CALLBACK_ALLOW="helpdesk.test")
    assert deliverer_for(factory, allowed, clock, fake_slack, resolve).run_once() == 1
    [call] = fake_slack.calls_to("callback")
    assert call.headers["host"] == f"helpdesk.test:{port}" and looked_up == ["helpdesk.test"]
    assert row(factory, message_id).delivered_at == START


# -- what the receiver gets ----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_signed_with_every_secret_one_event_id_and_counted_attempts_after_retry_after(
    factory: sessionmaker[Session],
    database_url: str,
    clock: Clock,
    fake_slack: FakeSlack,
    status: int,
) -> None:
    url = fake_slack.new_callback_url()
    fake_slack.fail_next("callback", status, headers={"Retry-After": "120"})
    message_id = decided_ticket(factory, clock(), url)
    settings = callback_settings(
        database_url,
        TRIAGE_CALLBACK_ALLOW="127.0.0.1",
        TRIAGE_CALLBACK_SECRET="whsec-new,whsec-old",
    )
    deliverer = deliverer_for(factory, settings, clock, fake_slack)

    assert deliverer.run_once() == 0
    waiting = row(factory, message_id)
    assert waiting.due_at == START + timedelta(seconds=120)  # as asked, not the 2 s backoff
    assert waiting.last_error == f"callback: HTTP {status}"
    clock.moment = waiting.due_at - timedelta(milliseconds=1)
    assert deliverer.run_once() == 0
    clock.moment = waiting.due_at
    assert deliverer.run_once() == 1

    first, second = fake_slack.calls_to("callback")
    assert first.headers["triage-event-id"] == second.headers["triage-event-id"]
    assert (first.headers["triage-attempt"], second.headers["triage-attempt"]) == ("1", "2")
    for call, sent_at in ((first, START), (second, waiting.due_at)):
        header = call.headers["triage-signature"]
        assert header.startswith(f"t={int(sent_at.timestamp())},v1=")
        assert header.count("v1=") == 2
        now = sent_at.timestamp()
        assert verify(call.body, header, secrets="whsec-old", now=now)  # not rotated yet
        assert verify(call.body, header, secrets="whsec-new", now=now)
        assert not verify(call.body, header, secrets="whsec-other", now=now)
        assert not verify(call.body + b" ", header, secrets="whsec-new", now=now)
    assert json.loads(second.body)["label"] == "card_arrival"


def test_without_a_secret_callbacks_go_unsigned_but_identified(
    factory: sessionmaker[Session], database_url: str, clock: Clock, fake_slack: FakeSlack
) -> None:
    decided_ticket(factory, clock(), fake_slack.new_callback_url())
    settings = callback_settings(database_url, TRIAGE_CALLBACK_ALLOW="127.0.0.1")
    assert deliverer_for(factory, settings, clock, fake_slack).run_once() == 1
    [call] = fake_slack.calls_to("callback")
    assert "triage-signature" not in call.headers
    assert call.headers["triage-attempt"] == "1" and call.headers["triage-event-id"]


# -- giving up ------------------------------------------------------------------------------


def test_given_up_after_the_attempts_allowed_and_alerted_once_for_many(
    factory: sessionmaker[Session], database_url: str, clock: Clock, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next("callback", 500, count=100)
    settings = callback_settings(
        database_url, TRIAGE_CALLBACK_ALLOW="127.0.0.1", TRIAGE_CALLBACK_MAX_ATTEMPTS="3"
    )
    deliverer = deliverer_for(factory, settings, clock, fake_slack)
    first = decided_ticket(factory, clock(), fake_slack.new_callback_url())
    second = decided_ticket(factory, clock(), fake_slack.new_callback_url())
    with factory.begin() as session:  # a Slack post failing as long never gives up
        slack = enqueue(
            OutboxKind.CHANNEL_MESSAGE,
            session=session,
            now=clock(),
            payload={"channel": "CNEWS", "text": "Model v8 is active"},
        )
        session.flush()
        slack_id = slack.id
    fake_slack.fail_next("chat.postMessage", 500, count=100)

    for _ in range(3):
        deliverer.run_once()
        clock.advance(minutes=1)
    assert row(factory, first).dead_at is not None and row(factory, second).dead_at is not None
    assert row(factory, first).attempts == 3
    assert len(fake_slack.calls_to("callback")) == 6
    assert row(factory, slack_id).dead_at is None  # Slack posts wait for Slack, however long
    clock.advance(hours=48)
    deliverer.run_once()
    assert len(fake_slack.calls_to("callback")) == 6
    assert row(factory, slack_id).dead_at is None and row(factory, slack_id).attempts == 4
    # One alert for the two given up (the second was counted into the first's message).
    with factory() as session:
        [alert] = session.scalars(select(Alert)).all()
        assert alert.repeats == 1 and "after 3 attempts" in alert.content["headline"]


def triage(web: RunningWeb, secret: str, text: str, user: str = ADMIN) -> str:
    """Send `/triage text` signed as Slack signs it; return everything the answer shows."""
    url = web.fake.new_response_url()
    response = web.slack(signed_slash_command(secret, text=text, user_id=user, response_url=url))
    assert response.status_code == 200, response.text
    answer = response.json()
    if answer.get("text") == "Working on it…":
        [answer] = web.fake.wait_for_response(url=url)
    return str(answer["text"]) + json.dumps(answer.get("blocks", ""), ensure_ascii=False)


def test_dead_lettered_on_a_moved_clock_alerted_counted_and_retried_by_an_admin(
    database_url: str,
    engine: Engine,
    factory: sessionmaker[Session],
    fake_slack: FakeSlack,
    slack_signing_secret: str,
    clock: Clock,
) -> None:
    settings = web_settings(database_url, fake_slack, slack_signing_secret)
    url = f"{fake_slack.url}/callback/H0001"  # the receiver is not up yet: 404
    # The moved clock must not make the web process look for a worker meanwhile (its alert).
    with serving(settings, engine, fake_slack, now=clock, leader_check_seconds=3600) as web:
        message_id = decided_ticket(factory, clock(), url)
        wait_until(lambda: row(factory, message_id).last_error, timeout=15, what="a failure")
        assert row(factory, message_id).last_error == "callback: HTTP 404"
        assert row(factory, message_id).dead_at is None

        clock.advance(hours=25)  # past TRIAGE_CALLBACK_MAX_AGE_HOURS (24)
        wait_until(lambda: row(factory, message_id).dead_at, timeout=15, what="the dead letter")
        [alert] = fake_slack.wait_for(
            lambda c: c.method == "chat.postMessage" and c.params["channel"] == ALERTS_CHANNEL
        )
        assert "Helpdesk callback given up" in alert.params["text"]
        assert f"to {fake_slack.url}" in alert.params["text"]
        assert "Helpdesk callbacks given up: 1" in triage(web, slack_signing_secret, "stats")
        scraped = web.client.get(f"{web.url}/metrics").text
        assert "triage_callback_dead_letters 1.0" in scraped

        assert "/triage callbacks retry [TICKET|all]" in triage(web, slack_signing_secret, "")
        assert "callbacks retry" not in triage(web, slack_signing_secret, "help", user=MEMBER)
        assert "Which one?\nUsage: /triage callbacks retry" in triage(
            web, slack_signing_secret, "callbacks"
        )
        refused = triage(web, slack_signing_secret, "callbacks retry all", user=MEMBER)
        assert "Only triage admins" in refused and row(factory, message_id).dead_at is not None
        assert fake_slack.new_callback_url() == url  # the receiver is up now
        ticket_id = row(factory, message_id).ticket_id
        answer = triage(web, slack_signing_secret, f"callbacks retry {ticket_id}")
        assert f"1 given-up helpdesk callback of ticket #{ticket_id} queued again" in answer

        [body] = fake_slack.wait_for_callback(url=url)
        assert body["id"] == ticket_id and body["label"] == "card_arrival"
        calls = fake_slack.calls_to("callback")
        assert len({c.headers["triage-event-id"] for c in calls}) == 1
        assert [c.headers["triage-attempt"] for c in calls] == ["1", "2", "1"]
        wait_until(lambda: row(factory, message_id).delivered_at, timeout=15, what="delivery")
        assert "given up" not in triage(web, slack_signing_secret, "stats")
        again = triage(web, slack_signing_secret, "callbacks retry")
        assert "No helpdesk callback was given up. Nothing changed." in again
        assert len(alert_posts(fake_slack)) == 2  # the alert, then the retry's announcement
    with factory() as session:
        [entry] = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action == "retry callbacks")
        ).all()
        assert entry.actor == ADMIN and entry.after == {"queued": 1}


def test_the_command_line_retries_dead_letters(
    cli: Callable[..., Ran], engine: Engine, factory: sessionmaker[Session], clock: Clock
) -> None:
    message_id = decided_ticket(factory, clock(), "https://helpdesk.example.com/hooks/triage")
    with factory.begin() as session:
        mark_dead(message_id, session=session, now=clock(), error="callback: HTTP 500")
    ticket_id = row(factory, message_id).ticket_id

    missing = cli("callbacks", "retry", "999999", "--as", "olga")
    assert missing.status == 2 and "There is no ticket 999999." in missing.err
    done = cli("callbacks", "retry", str(ticket_id), "--as", "olga")
    assert done.status == 0, done.err
    assert done.out.startswith(f"1 given-up helpdesk callback of ticket #{ticket_id} queued")
    revived = row(factory, message_id)
    assert revived.dead_at is None and revived.attempts == 0 and revived.retried_at is not None
    nothing = cli("callbacks", "retry", "--as", "olga")
    assert nothing.out.strip() == "No helpdesk callback was given up. Nothing changed."


def test_the_allowance_is_checked_at_start(database_url: str) -> None:
    with pytest.raises(SettingsError, match="TRIAGE_CALLBACK_ALLOW=10.0.0.0/8,bad host"):
        callback_settings(database_url, TRIAGE_CALLBACK_ALLOW="10.0.0.0/8,bad host")
    allowed = callback_settings(database_url, TRIAGE_CALLBACK_ALLOW=" Helpdesk.Internal. ,::1")
    assert allowed.callback_allow == ("helpdesk.internal", "::1/128")


def test_https_that_does_not_speak_tls_is_a_failed_attempt(
    factory: sessionmaker[Session], database_url: str, clock: Clock, fake_slack: FakeSlack
) -> None:
    """The fake speaks plain HTTP: the TLS handshake (SNI for the URL's host) fails, which is
    retried like any failure rather than sent in the clear."""
    url = fake_slack.new_callback_url().replace("http://", "https://")
    message_id = decided_ticket(factory, clock(), url)
    settings = callback_settings(database_url, TRIAGE_CALLBACK_ALLOW="127.0.0.1")
    assert deliverer_for(factory, settings, clock, fake_slack).run_once() == 0
    failed = row(factory, message_id)
    assert failed.last_error is not None and failed.last_error.startswith("callback: SSL")
    assert failed.dead_at is None and fake_slack.callbacks == []

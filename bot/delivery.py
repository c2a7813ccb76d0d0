"""Outbox delivery: send what the database says must be sent, and retry until Slack takes it.

Ticket messages are rendered from the ticket's state when they are sent, not when they were
queued, so a delayed post shows the latest answer and repeated refreshes converge. Each send
runs outside any transaction: no database lock is held while Slack is slow. Slack posts are
retried until Slack takes them; a helpdesk callback, whose receiver may be gone for good, is
given up after TRIAGE_CALLBACK_MAX_ATTEMPTS or TRIAGE_CALLBACK_MAX_AGE_HOURS (a dead letter,
alerted, which an admin can retry).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.blocks.alerts import build_alert_from
from bot.blocks.changes import build_announcement
from bot.blocks.digest import build_digest
from bot.blocks.routing import (
    build_intake_outcome,
    build_intake_reply,
    build_route_message,
    build_undone_notice,
)
from bot.blocks.text import PREVIEW_CHARS
from bot.blocks.ticket import (
    build_erased_reply,
    build_full_text_reply,
    build_reminder,
    build_ticket_message,
)
from bot.callback_post import post_callback
from bot.errors import TriageError
from bot.metrics.process import ProcessMetrics
from bot.metrics.slack import SlackCallCounter
from bot.services.admin import AdminChange
from bot.services.answers import FROM_ANSWER, OUTCOME, RETRACTS, SENT
from bot.services.callback_destinations import RefusedDestination, Resolver, check_destination
from bot.services.callback_signing import callback_headers, event_id
from bot.services.cards import Board, read_board, ticket_card
from bot.services.digest import DigestFigures
from bot.services.erasure import FULL_TEXT, queue_erase_edit, shows_ticket_text
from bot.services.policy import current_policy
from bot.services.policy_cache import PolicyCache
from bot.services.reminders import WAITED_SECONDS
from bot.services.ticket_view import public_view
from bot.settings import Settings
from jobs.callback_alerts import alert_callback_given_up
from storage.database import reading, unit_of_work
from storage.models import Alert, OutboxKind, OutboxMessage, Ticket
from storage.queries.outbox import (
    cancel_unclaimed,
    claim_due,
    enqueue,
    mark_dead,
    mark_delivered,
    mark_failed,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=15)
CALLBACK_MAX_BACKOFF = timedelta(hours=1)  # a receiver's outage is usually longer than Slack's
MAX_RETRY_AFTER = timedelta(hours=1)  # a longer wait asked for is taken as a glitch


class DeliveryError(TriageError):
    """A send failed; `retry_after` is the receiver's own wait when it gave one (429, and 503
    for callbacks); `final` when retrying cannot help (a refused callback destination)."""

    def __init__(self, reason: str, retry_after: float | None = None, *, final: bool = False):
        super().__init__(reason)
        self.retry_after, self.final = retry_after, final


@dataclass(frozen=True)
class Sent:
    """What a successful send returned that the database must remember."""

    channel: str | None = None
    ts: str | None = None
    nothing: bool = False  # there was nothing left to send, and nothing was sent


# What drawing an outbox row gives: the request to make (a Slack method and its arguments,
# or a callback's URL and body), None when nothing is left to send, or why it cannot be sent.
Request = tuple[Any, ...]
Drawn = Request | None | DeliveryError


class PassReads:
    """What the cards drawn in one delivery pass share, read once, and only if one needs it:
    the policy's quorum and the board every card shows (the labels, the queue's length)."""

    def __init__(self, session: Session, settings: Settings, policies: PolicyCache | None):
        self._session, self._settings, self._policies = session, settings, policies

    @cached_property
    def quorum(self) -> int:
        if self._policies is None:  # no cache (the worker): read the policy in force
            return current_policy(session=self._session, settings=self._settings).quorum
        return self._policies.get(session=self._session).quorum

    @cached_property
    def board(self) -> Board:
        return read_board(session=self._session)


def slack_client(settings: Settings, *, metrics: ProcessMetrics | None = None) -> WebClient:
    """The real Slack client: honours SLACK_API_URL and retries a 429 once after Retry-After;
    with `metrics`, every request, error and 429 is counted."""
    counting = [] if metrics is None else [SlackCallCounter(metrics)]
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[*counting, RateLimitErrorRetryHandler(max_retry_count=1)],
    )


def permalink_finder(client: WebClient) -> Callable[[str, str], str | None]:
    """(channel, ts) -> a link to that Slack message, or None when Slack cannot give one now."""

    def permalink(channel: str, ts: str) -> str | None:
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except (SlackApiError, OSError):
            return None

    return permalink


class Deliverer:
    """Claims due outbox rows and sends them; safe to run in several processes at once."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        client: WebClient,
        settings: Settings,
        *,
        now: Callable[[], datetime],
        backoff_base: float = 2.0,
        batch: int = 20,
        resolve: Resolver = socket.getaddrinfo,
        policies: PolicyCache | None = None,
    ) -> None:
        self._factory, self._client, self._settings = factory, client, settings
        self._now, self._backoff_base, self._batch = now, backoff_base, batch
        self._resolve = resolve  # how callback hosts are looked up (DNS)
        self._policies = policies  # the web process's cache; None reads the policy each time

    def run_once(self) -> int:
        """Deliver everything due now; return how many sends succeeded."""
        delivered = 0
        while True:
            claimed, sent = self.run_pass()
            if not claimed:
                return delivered
            delivered += sent

    def run_pass(self) -> tuple[int, int]:
        """Claim up to `batch` due rows and send them: (rows claimed, sends that succeeded).
        A bounded piece of work, so a caller can give way to other work between passes.

        The pass's rows are drawn from one read of the database and their results written in
        one transaction, instead of two units of work and a dozen statements a row: a review
        post cost 7 ms of CPU, four times what taking its ticket in did (BENCHMARKS.md). Drawing
        them all before sending is safe because every change after that read queues a row of
        its own, claimed by a later pass. A correction (after an undo) goes on its own, after
        the rest, since it may wait for, or cancel, the delivery it corrects.
        """
        with unit_of_work(self._factory) as session:
            claimed = claim_due(session=session, now=self._now(), lease=LEASE, limit=self._batch)
        together = [m for m in claimed if RETRACTS not in m.payload]
        sent = self._deliver(together, self._draw_together(together)) if together else 0
        for correction in (m for m in claimed if RETRACTS in m.payload):
            sent += self._deliver([correction], [self._draw_correction(correction)])
        return len(claimed), sent

    def _draw_together(self, messages: list[OutboxMessage]) -> list[Drawn]:
        """Each row's request, drawn in one read-only unit of work (on SQLite it takes no
        write lock: intake's batches never wait behind cards being drawn)."""
        with reading(self._factory) as session:
            ids = {m.ticket_id for m in messages if m.ticket_id is not None}
            tickets = {
                ticket.id: ticket
                for ticket in session.scalars(
                    select(Ticket).where(Ticket.id.in_(ids)).options(selectinload(Ticket.reviews))
                )
            }
            shared = PassReads(session, self._settings, self._policies)
            return [
                self._draw(
                    m,
                    None if m.ticket_id is None else tickets.get(m.ticket_id),
                    session=session,
                    shared=shared,
                )
                for m in messages
            ]

    def _draw(
        self, message: OutboxMessage, ticket: Ticket | None, *, session: Session, shared: PassReads
    ) -> Drawn:
        try:
            return self._render(message, ticket, session=session, shared=shared)
        except DeliveryError as error:
            return error

    def _draw_correction(self, message: OutboxMessage) -> Drawn:
        """A correction draws in a writing unit of work: it may cancel what it corrects."""
        with unit_of_work(self._factory) as session:
            ticket = None if message.ticket_id is None else session.get(Ticket, message.ticket_id)
            try:
                return (
                    None if ticket is None else self._correction(message, ticket, session=session)
                )
            except DeliveryError as error:
                return error

    def _deliver(self, messages: list[OutboxMessage], drawn: list[Drawn]) -> int:
        """Send each drawn request (outside any transaction: no lock is held while Slack is
        slow), then write every result in one transaction; return how many went through."""
        results = [
            (message, self._send(message, request))
            for message, request in zip(messages, drawn, strict=True)
        ]
        # A callback given up becomes a dead letter with its alert, in a transaction of its own.
        dead = {
            message.id
            for message, result in results
            if isinstance(result, DeliveryError)
            and message.kind == OutboxKind.CALLBACK
            and (result.final or self._given_up(message))
        }
        sent = [(m, r) for m, r in results if isinstance(r, Sent)]
        with unit_of_work(self._factory) as session:
            now = self._now()
            ids = {m.ticket_id for m, _ in sent if m.ticket_id is not None}
            tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
            kept = {m.id: self._kept_payload(m, went) for m, went in sent}
            mark_delivered(kept, session=session, now=now)
            for m, went in sent:
                ticket = None if m.ticket_id is None else tickets.get(m.ticket_id)
                self._after_sent(m, went, kept[m.id], ticket, session, now=now)
            for message, result in results:
                if isinstance(result, DeliveryError) and message.id not in dead:
                    self._record_failed(message, result, session=session)
        for message, result in results:
            if isinstance(result, Sent):
                log.info("delivered", extra={"outbox_id": message.id, "kind": message.kind})
            elif message.id in dead:
                self._dead_letter(message, result)
        return len(sent)

    @staticmethod
    def _kept_payload(message: OutboxMessage, sent: Sent) -> dict[str, Any] | None:
        """The row's payload with where its post went, when something may edit the post
        later (an undo corrects an answer's posts, an erasure removes a quoted ticket text);
        None to leave the payload as it is."""
        remember = message.payload.get(FROM_ANSWER) or shows_ticket_text(
            message.kind, message.payload
        )
        if remember and not sent.nothing:
            return {**message.payload, SENT: {"channel": sent.channel, "ts": sent.ts}}
        return None

    def _after_sent(
        self,
        message: OutboxMessage,
        sent: Sent,
        kept: dict[str, Any] | None,
        ticket: Ticket | None,
        session: Session,
        *,
        now: datetime,
    ) -> None:
        """What a delivery changes besides its own row: the ticket's post, the alert's."""
        if (
            ticket is not None
            and ticket.erased_at is not None
            and kept is not None
            and shows_ticket_text(message.kind, message.payload)
        ):
            # It quoted the text, and was sent while its ticket was being erased: edit it too.
            queue_erase_edit(ticket.id, message.kind, kept[SENT], session=session, now=now)
        if message.kind == OutboxKind.POST_TICKET and sent.ts is not None and ticket is not None:
            ticket.slack_channel, ticket.slack_ts = sent.channel, sent.ts
            if len(ticket.text) > PREVIEW_CHARS:
                enqueue(
                    OutboxKind.THREAD_REPLY,
                    session=session,
                    now=now,
                    ticket_id=ticket.id,
                    payload={FULL_TEXT: True},
                )
        if message.kind == OutboxKind.ALERT and sent.ts is not None:
            remember_alert_post(message.payload["alert_id"], sent, session=session)

    def _record_failed(
        self, message: OutboxMessage, error: DeliveryError, *, session: Session
    ) -> None:
        retry_at = self._now() + self._backoff(message, error.retry_after)
        mark_failed(message.id, session=session, retry_at=retry_at, error=error.reason)
        log.warning(
            "delivery failed",
            extra={
                "outbox_id": message.id,
                "kind": message.kind,
                "error": error.reason,
                "attempt": message.attempts,
                "retry_at": retry_at.isoformat(),
            },
        )

    def _backoff(self, message: OutboxMessage, retry_after: float | None) -> timedelta:
        """Slack's Retry-After is waited exactly; a callback waits at least as long as its
        receiver asks, and never less than its growing backoff (its attempts are counted)."""
        callback = message.kind == OutboxKind.CALLBACK
        if retry_after is not None and not callback:
            return timedelta(seconds=retry_after)
        seconds = self._backoff_base * 2 ** min(max(0, message.attempts - 1), 40)
        growing = min(timedelta(seconds=seconds), CALLBACK_MAX_BACKOFF if callback else MAX_BACKOFF)
        return max(growing, timedelta(seconds=retry_after or 0))

    def _given_up(self, message: OutboxMessage) -> bool:
        """A callback failed too often, or has been failing for too long, to try again."""
        since = message.retried_at or message.created_at
        too_old = self._now() - since >= timedelta(hours=self._settings.callback_max_age_hours)
        return too_old or message.attempts >= self._settings.callback_max_attempts

    def _dead_letter(self, message: OutboxMessage, error: DeliveryError) -> None:
        """Keep the callback as a dead letter and tell ops, in one transaction."""
        now = self._now()
        with unit_of_work(self._factory) as session:
            mark_dead(message.id, session=session, now=now, error=error.reason)
            ticket = None if message.ticket_id is None else session.get(Ticket, message.ticket_id)
            alert_callback_given_up(
                ticket_id=message.ticket_id,
                url=None if ticket is None else ticket.callback_url,
                attempts=message.attempts,
                error=error.reason,
                session=session,
                settings=self._settings,
                now=now,
            )
        log.warning(
            "callback given up",
            extra={
                "outbox_id": message.id,
                "ticket_id": message.ticket_id,
                "error": error.reason,
                "attempt": message.attempts,
            },
        )

    def _send(self, message: OutboxMessage, request: Drawn) -> Sent | DeliveryError:
        if isinstance(request, DeliveryError):
            return request
        if request is None:
            return Sent(nothing=True)
        try:
            if message.kind == OutboxKind.CALLBACK:
                return self._send_callback(message, *request)
            return self._send_to_slack(*request)
        except DeliveryError as error:
            return error

    def _send_to_slack(self, method: str, arguments: dict[str, Any]) -> Sent:
        try:
            response = self._client.api_call(method, json=arguments)
        except SlackApiError as error:
            status = error.response.status_code
            retry = (
                retry_after_seconds(error.response.headers, now=self._now())
                if status == 429
                else None
            )
            code = error.response.get("error") if isinstance(error.response.data, dict) else None
            raise DeliveryError(f"{method}: HTTP {status} {code or ''}".strip(), retry) from None
        except OSError as error:  # connection refused, timeout, DNS
            raise DeliveryError(f"{method}: {type(error).__name__}: {error}") from None
        return Sent(response.get("channel"), response.get("ts"))

    def _send_callback(self, message: OutboxMessage, url: str, view: dict[str, Any]) -> Sent:
        """POST the ticket's public view, signed, to its URL checked again now (DNS may have
        changed since intake); a redirect is a failed attempt, never followed."""
        try:
            destination = check_destination(
                url, allow=self._settings.callback_allow, resolve=self._resolve
            )
        except RefusedDestination as refusal:
            raise DeliveryError(f"callback refused: {refusal.reason}", final=True) from None
        body = json.dumps(view).encode()
        headers = callback_headers(
            body,
            event=event_id(message.id, message.created_at),
            attempt=message.attempts,
            secrets=self._settings.callback_secrets,
            timestamp=int(self._now().timestamp()),
        )
        try:
            answer = post_callback(destination, body, headers)
        except (OSError, http.client.HTTPException) as error:
            raise DeliveryError(f"callback: {type(error).__name__}: {error}") from None
        if 200 <= answer.status < 300:
            return Sent()
        retry = (
            retry_after_seconds(answer.headers, now=self._now())
            if answer.status in (429, 503)
            else None
        )
        if 300 <= answer.status < 400:
            raise DeliveryError(f"callback: HTTP {answer.status}, a redirect (not followed)")
        raise DeliveryError(f"callback: HTTP {answer.status}", retry)

    def _render(
        self, message: OutboxMessage, ticket: Ticket | None, *, session: Session, shared: PassReads
    ) -> Request | None:
        """The API call for one outbox row, or None when there is nothing left to send."""
        kind, payload, now = message.kind, message.payload, self._now()
        if kind == OutboxKind.ANNOUNCEMENT:
            change = AdminChange.from_json(payload["change"])
            announcement = build_announcement(change, actor=payload["actor"])
            return post({"channel": payload["channel"], **announcement})
        if kind == OutboxKind.DIGEST:
            digest = build_digest(DigestFigures.from_json(payload["digest"]))
            return post({"channel": payload["channel"], **digest})
        if kind == OutboxKind.CHANNEL_MESSAGE:  # a finished message queued before 0006
            return post(payload)
        if kind == OutboxKind.ALERT:
            return self._alert(payload["alert_id"], session=session)
        if ticket is None:
            return None  # the ticket was deleted since
        if payload.get(FROM_ANSWER) and not still_decided(ticket, payload.get("label")):
            return None  # the person's decision was undone (or replaced) since
        if kind == OutboxKind.CALLBACK:
            return (ticket.callback_url, public_view(ticket)) if ticket.callback_url else None
        if kind == OutboxKind.ROUTE:
            return post({"channel": payload["channel"], **build_route_message(ticket)})
        if kind == OutboxKind.THREAD_REPLY:
            return self._thread_reply(ticket, payload)
        if kind == OutboxKind.ERASE_MESSAGE:
            erased = (
                build_route_message(ticket) if payload["was"] == "route" else build_erased_reply()
            )
            return "chat.update", {"channel": payload["channel"], "ts": payload["ts"], **erased}
        card = build_ticket_message(
            ticket_card(ticket, board=shared.board, quorum=shared.quorum), now=now
        )
        if kind == OutboxKind.REFRESH_TICKET:
            if ticket.slack_ts is None:
                return None  # not posted yet: the post will show the current state
            return "chat.update", {"channel": ticket.slack_channel, "ts": ticket.slack_ts, **card}
        if ticket.slack_ts is not None:  # posted before (a retried post): update instead
            return "chat.update", {"channel": ticket.slack_channel, "ts": ticket.slack_ts, **card}
        if not self._settings.review_channel:
            raise DeliveryError("TRIAGE_REVIEW_CHANNEL is not set")
        return post({"channel": self._settings.review_channel, **card})

    def _alert(self, alert_id: int, *, session: Session) -> Request | None:
        """Post the alert, or edit its posted message to show the newest repeat."""
        alert = session.get(Alert, alert_id)
        if alert is None:
            return None
        message = build_alert_from(
            alert.content, repeats=alert.repeats, last_seen=alert.last_seen_at
        )
        if alert.slack_ts is not None:
            return "chat.update", {"channel": alert.slack_channel, "ts": alert.slack_ts, **message}
        if not self._settings.alerts_channel:
            raise DeliveryError("TRIAGE_ALERTS_CHANNEL is not set")
        return post({"channel": self._settings.alerts_channel, **message})

    def _correction(
        self, message: OutboxMessage, ticket: Ticket, *, session: Session
    ) -> Request | None:
        """After an undo: edit the post it corrects to say so, or send the callback again."""
        original = session.get(OutboxMessage, message.payload[RETRACTS])
        if original is None:
            return None  # cancelled before it was sent: nothing to correct
        if original.delivered_at is None:
            if cancel_unclaimed(original.id, session=session, now=self._now()):
                return None  # it had failed and was waiting for a retry: now it never will
            raise DeliveryError("waiting for the delivery it corrects to finish")
        sent = original.payload.get(SENT)
        if sent is None:
            return None  # it found the decision undone and sent nothing
        if message.kind == OutboxKind.CALLBACK:  # the receiver hears the ticket's state now
            return (ticket.callback_url, public_view(ticket)) if ticket.callback_url else None
        notice = build_undone_notice(
            ticket, label=message.payload["label"], by=message.payload["undone_by"]
        )
        return "chat.update", {"channel": sent["channel"], "ts": sent["ts"], **notice}

    def _thread_reply(self, ticket: Ticket, payload: dict[str, Any]) -> Request | None:
        if payload.get(OUTCOME):
            return "chat.postMessage", {
                "channel": payload["channel"],
                "thread_ts": payload["thread_ts"],
                **build_intake_outcome(ticket),
            }
        if payload.get(FULL_TEXT):
            if ticket.slack_ts is None or ticket.erased_at is not None:
                return None
            return "chat.postMessage", {
                "channel": ticket.slack_channel,
                "thread_ts": ticket.slack_ts,
                **build_full_text_reply(ticket.text),
            }
        if WAITED_SECONDS in payload:
            message = build_reminder(payload[WAITED_SECONDS])
        elif "text" in payload:  # a reminder queued before migration 0006, in words
            message = {"text": payload["text"]}
        else:
            message = build_intake_reply(ticket, review_channel=self._settings.review_channel)
        return "chat.postMessage", {
            "channel": payload["channel"],
            "thread_ts": payload["thread_ts"],
            **message,
        }


def retry_after_seconds(headers: Mapping[str, Any], *, now: datetime) -> float | None:
    """Slack's Retry-After in seconds, or None (then the usual backoff applies).

    The header name is matched in any case (HTTP/2 and proxies lower-case it); the value may
    be seconds or an HTTP date. Anything unreadable is ignored rather than failing the send.
    """
    value = next((str(v).strip() for k, v in headers.items() if k.lower() == "retry-after"), "")
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        seconds = (aware - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER.total_seconds())


def still_decided(ticket: Ticket, label: str | None) -> bool:
    """Whether the person's decision a delivery reports stands (with `label`, when given)."""
    return ticket.decided_by is not None and label in (None, ticket.final_label)


def post(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A new channel message; links in user text or alerts are never unfurled into previews."""
    return "chat.postMessage", {**message, "unfurl_links": False, "unfurl_media": False}


def remember_alert_post(alert_id: int, sent: Sent, *, session: Session) -> None:
    """Keep where the alert was posted, so its repeats edit that message."""
    alert = session.get(Alert, alert_id)
    if alert is not None and alert.slack_ts is None:
        alert.slack_channel, alert.slack_ts = sent.channel, sent.ts

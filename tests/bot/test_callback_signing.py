"""The callback signature as a receiver checks it: the right bytes, secret and time, or no."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.services.callback_signing import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TOLERANCE_SECONDS,
    callback_headers,
    event_id,
    signature_header,
    verify,
)

BODY = b'{"id": 7, "status": "labelled", "label": "card_arrival"}'
AT = 1_795_000_000


def test_the_header_carries_the_time_and_one_signature_per_secret_current_first() -> None:
    header = signature_header(BODY, secrets=["new", "old"], timestamp=AT)
    expected = [
        hmac.new(secret, f"{AT}.".encode() + BODY, hashlib.sha256).hexdigest()
        for secret in (b"new", b"old")
    ]
    assert header == f"t={AT},v1={expected[0]},v1={expected[1]}"


def test_a_receiver_holding_either_secret_verifies_during_a_rotation() -> None:
    header = signature_header(BODY, secrets=["new", "old"], timestamp=AT)
    assert verify(BODY, header, secrets="old", now=AT)
    assert verify(BODY, header, secrets="new", now=AT + 10)
    assert verify(BODY, header, secrets=["new", "old"], now=AT)
    assert not verify(BODY, header, secrets="other", now=AT)
    after_rotation = signature_header(BODY, secrets=["new"], timestamp=AT)
    assert not verify(BODY, after_rotation, secrets="old", now=AT)


def same(header: str) -> str:
    return header


@pytest.mark.parametrize(
    ("body", "tamper", "now"),
    [
        (BODY.replace(b"card_arrival", b"refund"), same, AT),  # the body was altered
        (BODY, lambda h: h.replace(f"t={AT}", f"t={AT + 1}"), AT),  # the time was altered
        (BODY, same, AT + TOLERANCE_SECONDS + 1),  # replayed too late
        (BODY, same, AT - TOLERANCE_SECONDS - 1),  # from the future
        (BODY, lambda h: h.replace("v1=", "v2="), AT),  # no v1 signature
        (BODY, lambda h: h.replace("t=", "x="), AT),  # no time
        (BODY, lambda _: "", AT),
        (BODY, lambda _: "garbage,,=", AT),
    ],
)
def test_anything_but_the_signed_bytes_in_time_is_refused(
    body: bytes, tamper: Callable[[str], str], now: int
) -> None:
    header = signature_header(BODY, secrets=["s3cret"], timestamp=AT)
    assert verify(BODY, header, secrets="s3cret", now=AT)
    assert not verify(body, tamper(header), secrets="s3cret", now=now)


def test_headers_name_the_event_and_attempt_and_sign_only_with_a_secret() -> None:
    queued = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    event = event_id(41, queued)
    assert event == event_id(41, queued) != event_id(42, queued)
    assert event != event_id(41, queued.replace(minute=1))  # a reused row id is a new event
    signed = callback_headers(BODY, event=event, attempt=3, secrets=["s3cret"], timestamp=AT)
    assert (signed[EVENT_ID_HEADER], signed[ATTEMPT_HEADER]) == (event, "3")
    assert verify(BODY, signed[SIGNATURE_HEADER], secrets="s3cret", now=AT)
    unsigned = callback_headers(BODY, event=event, attempt=1, secrets=[], timestamp=AT)
    assert SIGNATURE_HEADER not in unsigned and unsigned[EVENT_ID_HEADER] == event


def test_the_readme_snippet_verifies_as_verify_does() -> None:
    """Receivers copy the README's few lines: they must accept and refuse what `verify` does."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = readme[readme.index("import hashlib, hmac, time") : readme.index("# Flask: verify")]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - our own README, the point of the test
    readme_verify = namespace["verify"]
    now = int(time.time())
    header = signature_header(BODY, secrets=["new", "old"], timestamp=now)
    assert readme_verify(BODY, header, ["old"]) and verify(BODY, header, secrets=["old"])
    assert not readme_verify(BODY + b" ", header, ["new"])
    assert not readme_verify(BODY, header, ["other"])
    stale = signature_header(BODY, secrets=["new"], timestamp=now - TOLERANCE_SECONDS - 5)
    assert not readme_verify(BODY, stale, ["new"]) and not verify(BODY, stale, secrets="new")

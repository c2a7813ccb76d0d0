"""Signing ticket callbacks, so a receiver can tell them from forgeries (as Stripe and Slack do).

The signature is HMAC-SHA256 over `"{timestamp}.{body}"`, sent as
`Triage-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`: one `v1` per configured secret,
the current one first, so a receiver that still holds the previous secret keeps verifying
while secrets rotate. The timestamp is signed too, so a captured callback cannot be replayed
once the receiver's tolerance has passed. `verify` is what a receiver runs (the README shows
the same few lines for receivers that do not use this package).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence
from datetime import datetime

SIGNATURE_HEADER = "Triage-Signature"
EVENT_ID_HEADER = "Triage-Event-Id"  # the same on every retry of one callback
ATTEMPT_HEADER = "Triage-Attempt"  # 1, 2, ... for the retries of one callback
TOLERANCE_SECONDS = 300  # how old a signed timestamp a receiver should accept
EVENT_NAMESPACE = uuid.UUID("5b0e7a3c-6f1d-4c1e-9a59-1f3a2b7c9d10")  # event ids: uuid5 in it


def signature(body: bytes, *, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of `"{timestamp}.{body}"` under one secret."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(body: bytes, *, secrets: Sequence[str], timestamp: int) -> str:
    """`t=<timestamp>,v1=<hex>,...`: one signature per secret, in the order given."""
    signatures = [f"v1={signature(body, secret=s, timestamp=timestamp)}" for s in secrets]
    return ",".join([f"t={timestamp}", *signatures])


def verify(
    body: bytes,
    header: str,
    *,
    secrets: str | Sequence[str],
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """Whether `header` signs exactly `body` with one of `secrets`, within `tolerance` seconds.

    `body` must be the raw bytes received (re-serialised JSON would not match). A receiver in
    the middle of a rotation passes both its secrets.
    """
    held = [secrets] if isinstance(secrets, str) else list(secrets)
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = [signature(body, secret=secret, timestamp=timestamp) for secret in held]
    return any(hmac.compare_digest(e, given) for e in expected for given in signatures)


def event_id(outbox_id: int, queued_at: datetime) -> str:
    """The callback's id, the same on every retry: derived from its outbox row, whose id
    alone a database could reuse once old rows are pruned, hence the time it was queued."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{outbox_id}:{queued_at.isoformat()}"))


def callback_headers(
    body: bytes, *, event: str, attempt: int, secrets: Sequence[str], timestamp: int
) -> dict[str, str]:
    """Every header of one callback POST; unsigned when no secret is configured."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "triage-loop",
        EVENT_ID_HEADER: event,
        ATTEMPT_HEADER: str(attempt),
    }
    if secrets:
        headers[SIGNATURE_HEADER] = signature_header(body, secrets=secrets, timestamp=timestamp)
    return headers

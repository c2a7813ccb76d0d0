"""Storing models as skops bytes, loaded only after an integrity and type check."""

from __future__ import annotations

import hashlib
import hmac

import skops.io

from classifier.errors import ModelIntegrityError
from classifier.model import TicketClassifier

# Exactly the non-default types a TicketClassifier artifact contains (checked by a test
# with skops.io.get_untrusted_types); anything else in an artifact is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "classifier.model.TicketClassifier",
    "classifier.novelty.NoveltyDetector",
)


def sha256_hex(data: bytes) -> str:
    """Fingerprint an artifact so storage can detect tampering or corruption."""
    return hashlib.sha256(data).hexdigest()


def dump_model(model: TicketClassifier) -> bytes:
    """Serialise a fitted classifier with skops (no pickle), ready to store with its hash."""
    return skops.io.dumps(model)


def load_model(data: bytes, *, sha256: str) -> TicketClassifier:
    """Load a stored classifier only if its hash matches and it holds only trusted types."""
    if not hmac.compare_digest(sha256_hex(data), sha256.lower()):
        raise ModelIntegrityError("The stored model does not match its SHA-256 checksum.")
    try:
        untrusted = set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
    except Exception as exc:
        raise ModelIntegrityError("The stored model is not a readable skops artifact.") from exc
    if untrusted:
        raise ModelIntegrityError(
            f"The stored model contains unexpected types: {', '.join(sorted(untrusted))}."
        )
    model = skops.io.loads(data, trusted=list(TRUSTED_TYPES))
    if not isinstance(model, TicketClassifier):
        raise ModelIntegrityError("The stored artifact is not a TicketClassifier.")
    return model

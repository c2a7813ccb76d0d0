"""Storing models as skops bytes, loaded only after an integrity and type check."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict

from classifier.errors import ModelIntegrityError
from classifier.model import TicketClassifier

# skops is imported where it is used: importing it enumerates scikit-learn's modules to
# list its trusted types (about a second, and it pulls in pytest), which every process and
# command that never stores or loads a model would pay at start-up.

# Exactly the non-default types a TicketClassifier artifact contains (checked by a test
# with skops.io.get_untrusted_types); anything else in an artifact is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "classifier.model.TicketClassifier",
    "classifier.novelty.NoveltyDetector",
)


# Models this process parsed, by the checksum of their bytes: the worker's retraining loads
# the active model on every run, and an activation loads the bytes it is about to switch
# to; parsing a skops artifact takes seconds (1.7 s for the shipped sample's model), the
# checksum milliseconds. Two entries: the active model and the one replacing it.
_PARSED: OrderedDict[str, TicketClassifier] = OrderedDict()
_PARSED_KEPT = 2
_PARSED_LOCK = threading.Lock()


def sha256_hex(data: bytes) -> str:
    """Fingerprint an artifact so storage can detect tampering or corruption."""
    return hashlib.sha256(data).hexdigest()


def dump_model(model: TicketClassifier) -> bytes:
    """Serialise a fitted classifier with skops (no pickle), ready to store with its hash."""
    import skops.io

    return skops.io.dumps(model)


def load_model(data: bytes, *, sha256: str) -> TicketClassifier:
    """Load a stored classifier only if its hash matches and it holds only trusted types.

    Bytes with the checksum of a model already parsed here give that same object back:
    models are only read once fitted, so threads and callers can share one."""
    digest = sha256_hex(data)
    if not hmac.compare_digest(digest, sha256.lower()):
        raise ModelIntegrityError("The stored model does not match its SHA-256 checksum.")
    with _PARSED_LOCK:
        if digest in _PARSED:
            _PARSED.move_to_end(digest)
            return _PARSED[digest]
    model = _parse(data)
    with _PARSED_LOCK:
        _PARSED[digest] = model
        while len(_PARSED) > _PARSED_KEPT:
            _PARSED.popitem(last=False)
    return model


def _parse(data: bytes) -> TicketClassifier:
    """skops bytes to a classifier, refusing any type outside TRUSTED_TYPES."""
    import skops.io

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

"""Structured logs: one JSON object per line on stderr, with secrets scrubbed before output.

Ticket text never reaches a log line: libraries that log request bodies at DEBUG (the
Slack SDK logs every posted message; Bolt every incoming payload) are held at INFO whatever
the level asked for, SQL parameters are hidden by the engine (`storage.database`), and an
exception's text is masked like a ticket (card numbers, e-mails, links) before it is written.
"""

from __future__ import annotations

import json
import logging
import re
from typing import IO, Any

from classifier.masking import mask_sensitive

# Slack tokens (bot, user, app, config, refresh, rotated "xoxe.xoxp-") and bearer credentials.
_SECRET = re.compile(
    r"\bxox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+|(?i:\bbearer)\s+[^\s\"',;]+"
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Loggers that write request or response bodies (ticket text) at DEBUG.
BODY_LOGGERS = ("slack_sdk", "slack_bolt")
QUIET_LOGGERS = ("alembic", "spacy")  # start-up chatter at INFO that says nothing new


def scrub(text: str) -> str:
    """Replace anything that looks like a token with a marker."""
    return _SECRET.sub("[redacted]", text)


def _scrubbed(value: Any) -> Any:
    """Strings scrubbed one by one, so a redaction never eats the JSON around it."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            # An exception message may quote its input (a ticket, a request body). Tokens go
            # first: masking their digit runs would leave the rest of a token unrecognised.
            entry["error"] = mask_sensitive(scrub(self.formatException(record.exc_info)))
        return json.dumps(_scrubbed(entry), ensure_ascii=False)


def configure_logging(level: str, stream: IO[str] | None = None) -> None:
    """Send every logger's records to `stream` (stderr by default) as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

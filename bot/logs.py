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
from contextvars import ContextVar
from datetime import UTC, datetime
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
# The id of the HTTP request being handled (bot.api.request_ids sets it); threads started
# with asyncio.to_thread and tasks created inside the request inherit it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


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


def utc_timestamp(created: float) -> str:
    """ISO-8601 in UTC with milliseconds (`2026-11-23T12:00:00.123Z`): sortable across hosts."""
    moment = datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
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

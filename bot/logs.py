"""Structured logs: one JSON object per line on stderr, with secrets scrubbed before output."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

# Slack tokens (bot, user, app, config, refresh) and bearer credentials in any message.
_SECRET = re.compile(r"\bxox[abposre]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+|(?i:bearer)\s+\S+")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrub(text: str) -> str:
    """Replace anything that looks like a token with a marker."""
    return _SECRET.sub("[redacted]", text)


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
            entry["error"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str) -> None:
    """Send every logger's records to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("alembic", "spacy"):  # start-up chatter at INFO that says nothing new
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))

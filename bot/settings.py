"""The one settings object: read once from the environment and `.env`, then passed down.

Nothing else in the code base reads `os.environ`; a bad value stops start-up with one line
that names the variable, so a deployer never meets a traceback for a typo.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from dotenv import dotenv_values

from bot.errors import SettingsError

T = TypeVar("T")

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


def _text(raw: str) -> str | None:
    return raw.strip() or None


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return parse


def _probability(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        too_low = value <= low if low_open else value < low
        if too_low or value > high:
            opening = "(" if low_open else "["
            raise ValueError(f"must be a number in {opening}{low}, {high}]")
        return value

    return parse


def _switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("on", "off", "true", "false", "1", "0"):
        raise ValueError("must be on or off")
    return value in ("on", "true", "1")


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


_HOST_NAME = re.compile(r"^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$")


def _callback_allow(raw: str) -> tuple[str, ...]:
    """Host names and CIDRs (or single addresses) callbacks may reach although internal."""
    allowed = []
    for entry in _csv(raw):
        value = entry.lower().rstrip(".")
        try:
            allowed.append(str(ipaddress.ip_network(value.strip("[]"), strict=False)))
            continue
        except ValueError:
            pass
        if not _HOST_NAME.match(value):
            raise ValueError(f"`{entry}` is neither a host name nor an address or CIDR")
        allowed.append(value)
    return tuple(allowed)


def _channel(raw: str) -> str | None:
    value = raw.strip().lstrip("#")
    if not value:
        return None
    if any(ch.isspace() for ch in value):
        raise ValueError("must be a Slack channel ID (e.g. C0123ABCD) or name without spaces")
    return value


def _user_group(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not (value.startswith("S") and value.isalnum() and value.isupper()):
        raise ValueError("must be a Slack user group ID like S0123ABCD (not its @handle)")
    return value


def _database_url(raw: str) -> str:
    """Accept the URLs hosting platforms hand out and pin the psycopg 3 driver."""
    url = raw.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith(("sqlite://", "postgresql+psycopg://")):
        raise ValueError("must start with sqlite:/// or postgresql://")
    return url


def _api_url(raw: str) -> str:
    url = raw.strip()
    if not url.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class Settings:
    """Everything the processes need to know about their deployment, validated."""

    database_url: str = "sqlite:///triage.db"
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    review_channel: str | None = None
    alerts_channel: str | None = None
    intake_channel: str | None = None
    admins: frozenset[str] = frozenset()
    admin_group: str | None = None
    api_tokens: tuple[str, ...] = field(default=(), repr=False)
    # Callback signing secrets, the current one first (several while receivers rotate).
    callback_secrets: tuple[str, ...] = field(default=(), repr=False)
    callback_allow: tuple[str, ...] = ()  # internal hosts or CIDRs callbacks may reach
    callback_max_attempts: int = 30
    callback_max_age_hours: int = 24
    target_precision: float = 0.95
    audit_rate: float = 0.02
    confidence_floor: float = 0.6
    novelty_false_alarms: float = 0.09
    label_screening_max: float = 0.1
    second_opinion_share: float = 0.05
    second_opinion_doubts: bool = True
    reask_per_day: int = 20
    topic_min_tickets: int = 5
    topic_window_hours: int = 24
    topic_check_seconds: int = 300
    min_label_examples: int = 5
    spacy_pipeline: str | None = None
    sentence_encoder: str | None = None
    port: int = 3000
    log_level: str = "INFO"
    model_refresh_seconds: int = 30
    intake_batch_size: int = 64
    # 10, not 2: at a steady 200 tickets/s a 2 ms window held one ticket a batch, whose
    # fixed cost took a fifth more CPU per ticket; the tail was alike (BENCHMARKS.md).
    intake_batch_ms: int = 10
    retrain_min_answers: int = 200
    retrain_check_seconds: int = 60
    delivery_seconds: int = 5
    # Where a web process delivers the outbox: a child process (its own GIL, below intake's
    # priority) or a thread of its own (one process fewer, for a small container).
    web_delivery: str = "process"
    reminder_minutes: int = 30
    reminder_check_seconds: int = 60
    escalation_minutes: int = 120
    backlog_alert: int = 50
    min_audits_for_alert: int = 30
    alert_cooldown_minutes: int = 60
    alert_check_seconds: int = 300
    digest_hour: int = 9
    worker_lease_seconds: int = 30
    no_leader_alert_minutes: int = 10
    metrics_token: str | None = field(default=None, repr=False)
    worker_metrics_port: int | None = None
    web_concurrency: int = 1
    prometheus_multiproc_dir: str | None = None
    retention_days: int | None = None  # None: ticket text is kept until erased on request
    outbox_keep_days: int = 14
    # The hosting platform when it runs each process on its own machine (from its marker
    # variable, e.g. Heroku's DYNO): a SQLite file cannot be shared there.
    separate_machines_platform: str | None = None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        dotenv_path: str | Path | None = ".env",
        defaults: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from `.env` overlaid by the real environment (which wins); a
        command may bring `defaults` of its own for variables neither of them sets."""
        merged: dict[str, str] = dict(defaults or {})
        if dotenv_path is not None and Path(dotenv_path).is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {
            "separate_machines_platform": next(
                (platform for marker, platform in PLATFORM_MARKERS if merged.get(marker)), None
            )
        }
        for name, parse in _PARSERS.items():
            raw = merged.get(name)
            if raw is None or raw.strip() == "":
                continue
            attribute = _ATTRIBUTES[name]
            try:
                values[attribute] = parse(raw)
            except ValueError as error:
                raise SettingsError(
                    f"{name}={_shown(attribute, raw)} is invalid: {error}"
                ) from None
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (tests and the demo use this)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return type(self)(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    def to_env(self) -> dict[str, str]:
        """Every setting as the environment variable that gives it, so a process started by
        another (the sandbox starts the web and worker processes) gets exactly these."""
        return {
            name: _env_value(getattr(self, attribute)) for name, attribute in _ATTRIBUTES.items()
        }


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, frozenset | tuple):
        return ",".join(sorted(value) if isinstance(value, frozenset) else value)
    return str(value)


def _web_delivery(raw: str) -> str:
    where = raw.strip().lower()
    if where not in {"process", "thread"}:
        raise ValueError("must be process or thread")
    return where


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return level


# Environment variable -> (attribute, parser). `.env.example` documents each one; a test checks.
_SPEC: dict[str, tuple[str, Callable[[str], Any]]] = {
    "DATABASE_URL": ("database_url", _database_url),
    "SLACK_BOT_TOKEN": ("slack_bot_token", _text),
    "SLACK_SIGNING_SECRET": ("slack_signing_secret", _text),
    "SLACK_APP_TOKEN": ("slack_app_token", _text),
    "SLACK_API_URL": ("slack_api_url", _api_url),
    "TRIAGE_REVIEW_CHANNEL": ("review_channel", _channel),
    "TRIAGE_ALERTS_CHANNEL": ("alerts_channel", _channel),
    "TRIAGE_INTAKE_CHANNEL": ("intake_channel", _channel),
    "TRIAGE_ADMINS": ("admins", lambda raw: frozenset(_csv(raw))),
    "TRIAGE_ADMIN_GROUP": ("admin_group", _user_group),
    "TRIAGE_API_TOKEN": ("api_tokens", _csv),
    "TRIAGE_CALLBACK_SECRET": ("callback_secrets", _csv),
    "TRIAGE_CALLBACK_ALLOW": ("callback_allow", _callback_allow),
    "TRIAGE_CALLBACK_MAX_ATTEMPTS": ("callback_max_attempts", _int_between(1, 1_000)),
    "TRIAGE_CALLBACK_MAX_AGE_HOURS": ("callback_max_age_hours", _int_between(1, 24 * 30)),
    "TRIAGE_TARGET_PRECISION": ("target_precision", _probability(0.5, 0.999, low_open=True)),
    "TRIAGE_AUDIT_RATE": ("audit_rate", _probability(0.0, 1.0)),
    "TRIAGE_CONFIDENCE_FLOOR": ("confidence_floor", _probability(0.0, 1.0)),
    "TRIAGE_NOVELTY_FALSE_ALARMS": ("novelty_false_alarms", _probability(0.0, 0.5)),
    "TRIAGE_LABEL_SCREENING_MAX": ("label_screening_max", _probability(0.0, 0.5)),
    "TRIAGE_SECOND_OPINION_SHARE": ("second_opinion_share", _probability(0.0, 1.0)),
    "TRIAGE_SECOND_OPINION_DOUBTS": ("second_opinion_doubts", _switch),
    "TRIAGE_REASK_PER_DAY": ("reask_per_day", _int_between(0, 10_000)),
    "TRIAGE_TOPIC_MIN_TICKETS": ("topic_min_tickets", _int_between(2, 1_000)),
    "TRIAGE_TOPIC_WINDOW_HOURS": ("topic_window_hours", _int_between(1, 24 * 30)),
    "TRIAGE_TOPIC_CHECK_SECONDS": ("topic_check_seconds", _int_between(10, 86_400)),
    "TRIAGE_MIN_LABEL_EXAMPLES": ("min_label_examples", _int_between(1, 10_000)),
    "TRIAGE_SPACY_PIPELINE": ("spacy_pipeline", _text),
    "TRIAGE_SENTENCE_ENCODER": ("sentence_encoder", _text),
    "PORT": ("port", _int_between(1, 65_535)),
    "TRIAGE_LOG_LEVEL": ("log_level", _log_level),
    "TRIAGE_MODEL_REFRESH_SECONDS": ("model_refresh_seconds", _int_between(1, 60)),
    "TRIAGE_INTAKE_BATCH_SIZE": ("intake_batch_size", _int_between(1, 1_000)),
    "TRIAGE_INTAKE_BATCH_MS": ("intake_batch_ms", _int_between(0, 100)),
    "TRIAGE_RETRAIN_MIN_ANSWERS": ("retrain_min_answers", _int_between(1, 1_000_000)),
    "TRIAGE_RETRAIN_CHECK_SECONDS": ("retrain_check_seconds", _int_between(5, 86_400)),
    "TRIAGE_DELIVERY_SECONDS": ("delivery_seconds", _int_between(1, 3_600)),
    "TRIAGE_WEB_DELIVERY": ("web_delivery", _web_delivery),
    "TRIAGE_REMINDER_MINUTES": ("reminder_minutes", _int_between(1, 10_080)),
    "TRIAGE_REMINDER_CHECK_SECONDS": ("reminder_check_seconds", _int_between(5, 86_400)),
    "TRIAGE_ESCALATION_MINUTES": ("escalation_minutes", _int_between(1, 10_080)),
    "TRIAGE_BACKLOG_ALERT": ("backlog_alert", _int_between(1, 1_000_000)),
    "TRIAGE_MIN_AUDITS_FOR_ALERT": ("min_audits_for_alert", _int_between(1, 100_000)),
    "TRIAGE_ALERT_COOLDOWN_MINUTES": ("alert_cooldown_minutes", _int_between(1, 10_080)),
    "TRIAGE_ALERT_CHECK_SECONDS": ("alert_check_seconds", _int_between(10, 86_400)),
    "TRIAGE_DIGEST_HOUR": ("digest_hour", _int_between(0, 23)),
    "TRIAGE_WORKER_LEASE_SECONDS": ("worker_lease_seconds", _int_between(2, 3_600)),
    "TRIAGE_NO_LEADER_ALERT_MINUTES": ("no_leader_alert_minutes", _int_between(1, 10_080)),
    "TRIAGE_METRICS_TOKEN": ("metrics_token", _text),
    "TRIAGE_WORKER_METRICS_PORT": ("worker_metrics_port", _int_between(1, 65_535)),
    "WEB_CONCURRENCY": ("web_concurrency", _int_between(1, 64)),
    "PROMETHEUS_MULTIPROC_DIR": ("prometheus_multiproc_dir", _text),
    "TRIAGE_RETENTION_DAYS": ("retention_days", _int_between(1, 36_500)),
    "TRIAGE_OUTBOX_KEEP_DAYS": ("outbox_keep_days", _int_between(1, 3_650)),
}
# Variables a platform sets on every process it runs on a machine of its own.
PLATFORM_MARKERS: tuple[tuple[str, str], ...] = (
    ("DYNO", "Heroku"),
    ("FLY_MACHINE_ID", "Fly.io"),
    ("RENDER_SERVICE_ID", "Render"),
    ("RAILWAY_SERVICE_ID", "Railway"),
    ("KUBERNETES_SERVICE_HOST", "Kubernetes"),
)
_PARSERS = {name: parse for name, (_, parse) in _SPEC.items()}
_ATTRIBUTES = {name: attribute for name, (attribute, _) in _SPEC.items()}
_SECRETS = {
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "api_tokens",
    "callback_secrets",
    "metrics_token",
}
# user:password@ in a URL; greedy to the last "@", since a password may hold an unescaped one.
_URL_PASSWORD = re.compile(r"(://[^/:@]*:).*@")


def _shown(attribute: str, raw: str) -> str:
    """The rejected value as the error may echo it: secrets hidden, URL passwords masked."""
    if attribute in _SECRETS:
        return "<hidden>"
    if attribute == "database_url":
        return _URL_PASSWORD.sub(r"\1***@", raw)
    return raw


ENVIRONMENT_VARIABLES: tuple[str, ...] = tuple(_SPEC)

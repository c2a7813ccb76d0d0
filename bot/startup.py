"""Start-up checks of `triage serve` and `triage worker`: the surprises a deployer would hit.

Slack events carry channel IDs, so a channel given by name would silently never match: names
are looked up once with `conversations.list` and replaced by their IDs, or start-up stops
with a line saying why. A SQLite file on a platform that gives each process its own machine
cannot be shared, and the processes would each see their own empty database: that is said
at start too, and so is a missing callback secret (callbacks then go out unsigned).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import SettingsError
from bot.settings import Settings

log = logging.getLogger(__name__)

# Slack channel names are lower case; IDs are upper-case letters and digits (C…, G…, D…).
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
CHANNEL_SETTINGS = (
    ("TRIAGE_REVIEW_CHANNEL", "review_channel"),
    ("TRIAGE_ALERTS_CHANNEL", "alerts_channel"),
    ("TRIAGE_INTAKE_CHANNEL", "intake_channel"),
)
PAGE_SIZE = 200


def is_channel_id(value: str) -> bool:
    """`C0123ABCD` is an ID; `triage-review` is a name."""
    return _CHANNEL_ID.fullmatch(value) is not None


def named_channels(settings: Settings) -> dict[str, str]:
    """Setting name -> channel name, for the channel settings given by name."""
    found = {env: getattr(settings, attr) for env, attr in CHANNEL_SETTINGS}
    return {env: value for env, value in found.items() if value and not is_channel_id(value)}


def resolve_channels(settings: Settings, client: WebClient | None) -> Settings:
    """Settings with every channel name replaced by its ID, or a SettingsError naming it."""
    named = named_channels(settings)
    if not named:
        return settings
    first = next(iter(named))
    if client is None:
        raise SettingsError(
            f"{first}=#{named[first]} is a channel name, which needs SLACK_BOT_TOKEN to be "
            "looked up; set the channel ID instead (channel details, at the bottom)."
        )
    try:
        ids = _channel_ids(client, set(named.values()))
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        hint = (
            " (the app needs the channels:read and groups:read scopes: reinstall it from "
            "slack/manifest.yml)"
            if code == "missing_scope"
            else ""
        )
        raise SettingsError(
            f"{first}=#{named[first]} could not be looked up: Slack answered "
            f"{code or error.response.status_code}{hint}; or set the channel ID instead."
        ) from None
    except OSError as error:
        raise SettingsError(
            f"{first}=#{named[first]} could not be looked up: Slack could not be reached "
            f"({type(error).__name__}); set the channel ID instead."
        ) from None
    changes = {}
    for env, attribute in CHANNEL_SETTINGS:
        name = named.get(env)
        if name is None:
            continue
        if name not in ids:
            raise SettingsError(
                f"{env}=#{name} is not a channel the bot can see: check the name, or that "
                "the channel is not archived and, if private, that the bot was invited."
            )
        changes[attribute] = ids[name]
        log.info("channel name resolved", extra={"setting": env, "channel": ids[name]})
    return settings.with_overrides(**changes)


def _channel_ids(client: WebClient, wanted: set[str]) -> dict[str, str]:
    """Name -> ID for the `wanted` names, paging through conversations.list until all found."""
    found: dict[str, str] = {}
    for channel in _all_channels(client):
        name = channel.get("name")
        if name in wanted:
            found[name] = str(channel["id"])
            if len(found) == len(wanted):
                break
    return found


def _all_channels(client: WebClient) -> Iterator[dict[str, str]]:
    cursor = None
    while True:
        page = client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=PAGE_SIZE,
            cursor=cursor,
        )
        yield from page.get("channels") or []
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return


def sqlite_on_separate_machines(settings: Settings) -> str | None:
    """The warning to log when a SQLite file is used where processes do not share a disk."""
    platform = settings.separate_machines_platform
    if platform is None or not settings.database_url.startswith("sqlite"):
        return None
    return (
        f"DATABASE_URL is a SQLite file, but {platform} runs each process on its own "
        "machine: web and worker will not share it, and it may vanish on restart. Set "
        "DATABASE_URL to a PostgreSQL database."
    )


def unsigned_callbacks(settings: Settings) -> str | None:
    """The warning to log when ticket callbacks would go out without a signature."""
    if settings.callback_secrets:
        return None
    return (
        "TRIAGE_CALLBACK_SECRET is not set: ticket callbacks are sent unsigned, so a "
        "receiver cannot tell them from forgeries. Set it, and verify Triage-Signature."
    )


def warn_about_platform(settings: Settings) -> None:
    """Log the start-up warnings that do not stop the process."""
    warning = sqlite_on_separate_machines(settings)
    if warning is not None:
        log.warning(warning, extra={"platform": settings.separate_machines_platform})
    unsigned = unsigned_callbacks(settings)
    if unsigned is not None:
        log.warning(unsigned)

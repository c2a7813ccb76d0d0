"""Start-up checks: channel names become IDs (or start-up stops, saying why), and SQLite
where processes do not share a disk is warned of."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.cli.runtime import started_checks
from bot.delivery import slack_client
from bot.errors import SettingsError
from bot.sandbox.slack import FakeSlack, signed_event
from bot.settings import Settings
from bot.startup import resolve_channels, sqlite_on_separate_machines, unsigned_callbacks
from storage.models import Ticket
from tests.bot.conftest import serving, web_settings

# More channels than one page of conversations.list, so the lookup must follow the cursor.
CHANNELS: dict[str, dict[str, Any]] = {
    f"C{number:08d}": {"name": f"team-{number}"} for number in range(450)
}
CHANNELS |= {
    "C0REVIEW1": {"name": "triage-review"},
    "G0INTAKE1": {"name": "support-intake", "is_private": True},
    "C0OLDINT1": {"name": "old-intake", "is_archived": True},
}


@pytest.fixture
def workspace(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.workspace.channels.update(CHANNELS)
    return fake_slack


def named(fake: FakeSlack, secret: str, database_url: str, **channels: str) -> Settings:
    return web_settings(database_url, fake, secret, **channels)


def test_names_are_resolved_to_ids_across_pages_and_ids_are_kept(
    workspace: FakeSlack, slack_signing_secret: str, database_url: str
) -> None:
    settings = named(
        workspace,
        slack_signing_secret,
        database_url,
        TRIAGE_REVIEW_CHANNEL="#triage-review",
        TRIAGE_INTAKE_CHANNEL="support-intake",
        TRIAGE_ALERTS_CHANNEL="C0ALERTS9",
    )
    resolved = resolve_channels(settings, slack_client(settings))
    assert resolved.review_channel == "C0REVIEW1"
    assert resolved.intake_channel == "G0INTAKE1"  # private: the bot was invited
    assert resolved.alerts_channel == "C0ALERTS9"
    pages = workspace.calls_to("conversations.list")
    assert len(pages) == 3 and pages[0].params["types"] == "public_channel,private_channel"


def test_ids_alone_need_no_slack_call(
    workspace: FakeSlack, slack_signing_secret: str, database_url: str
) -> None:
    settings = named(workspace, slack_signing_secret, database_url)  # CREVIEW, CINTAKE, …
    assert resolve_channels(settings, slack_client(settings)) == settings
    assert workspace.calls_to("conversations.list") == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("#no-such-channel", "TRIAGE_INTAKE_CHANNEL=#no-such-channel is not a channel the bot"),
        ("old-intake", "TRIAGE_INTAKE_CHANNEL=#old-intake is not a channel the bot can see"),
    ],
)
def test_an_unknown_or_archived_name_stops_start_up_with_one_line(
    workspace: FakeSlack, slack_signing_secret: str, database_url: str, value: str, expected: str
) -> None:
    settings = named(workspace, slack_signing_secret, database_url, TRIAGE_INTAKE_CHANNEL=value)
    with pytest.raises(SettingsError) as caught:
        resolve_channels(settings, slack_client(settings))
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


def test_a_missing_scope_is_named_with_the_fix(
    workspace: FakeSlack, slack_signing_secret: str, database_url: str
) -> None:
    workspace.fail_next("conversations.list", error="missing_scope")
    settings = named(
        workspace, slack_signing_secret, database_url, TRIAGE_REVIEW_CHANNEL="triage-review"
    )
    with pytest.raises(SettingsError, match="channels:read and groups:read"):
        resolve_channels(settings, slack_client(settings))


def test_a_name_without_a_bot_token_is_refused(database_url: str) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "TRIAGE_ALERTS_CHANNEL": "#ops"}, dotenv_path=None
    )
    with pytest.raises(SettingsError, match="TRIAGE_ALERTS_CHANNEL=#ops is a channel name"):
        started_checks(settings)


def test_serve_refuses_a_channel_name_slack_does_not_know(
    workspace: FakeSlack,
    slack_signing_secret: str,
    database_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": slack_signing_secret,
        "SLACK_API_URL": workspace.base_url,
        "TRIAGE_INTAKE_CHANNEL": "#suport-intake",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        "triage: error: TRIAGE_INTAKE_CHANNEL=#suport-intake is not a channel the bot can see: "
        "check the name, or that the channel is not archived and, if private, that the bot "
        "was invited."
    )


def test_an_intake_channel_given_by_name_takes_tickets(
    workspace: FakeSlack,
    slack_signing_secret: str,
    database_url: str,
    engine: Engine,
    factory: sessionmaker[Session],
) -> None:
    """The bug this fixes: the name was accepted and never matched an event's channel ID."""
    settings = started_checks(
        named(workspace, slack_signing_secret, database_url, TRIAGE_INTAKE_CHANNEL="support-intake")
    )
    with serving(settings, engine, workspace) as web:
        event = {
            "type": "message",
            "channel": "G0INTAKE1",
            "channel_type": "group",
            "user": "U1",
            "text": "My card has not arrived",
            "ts": "1700000000.000100",
        }
        assert web.slack(signed_event(slack_signing_secret, event)).status_code == 200

        def stored() -> int:
            with factory() as session:
                return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)

        workspace.wait_until(stored, what="the intake ticket")


def test_sqlite_where_each_process_has_its_own_machine_is_warned_of(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signed = {"TRIAGE_CALLBACK_SECRET": "whsec-test"}  # else unsigned callbacks are warned of
    heroku = Settings.from_env({"DYNO": "web.1", **signed}, dotenv_path=None)
    assert heroku.separate_machines_platform == "Heroku"
    warning = sqlite_on_separate_machines(heroku)
    assert warning is not None and "PostgreSQL" in warning and "Heroku" in warning
    with caplog.at_level(logging.WARNING):
        started_checks(heroku)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [warning]

    on_postgres = Settings.from_env(
        {"DYNO": "web.1", "DATABASE_URL": "postgres://u:p@db/triage"}, dotenv_path=None
    )
    assert sqlite_on_separate_machines(on_postgres) is None
    assert sqlite_on_separate_machines(Settings.from_env({}, dotenv_path=None)) is None


def test_unsigned_callbacks_are_warned_of_at_start(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    unsigned = Settings.from_env({"DATABASE_URL": database_url}, dotenv_path=None)
    with caplog.at_level(logging.WARNING):
        started_checks(unsigned)
        started_checks(unsigned.with_overrides(callback_secrets=("whsec-test",)))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [unsigned_callbacks(unsigned)]
    assert "TRIAGE_CALLBACK_SECRET is not set" in warnings[0] and "unsigned" in warnings[0]

"""Settings: defaults, validation that names the variable, `.env`, and documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.settings import ENVIRONMENT_VARIABLES, Settings

REPO = Path(__file__).resolve().parents[1]


def test_defaults_need_no_configuration() -> None:
    settings = Settings.from_env({}, dotenv_path=None)
    assert settings.database_url == "sqlite:///triage.db"
    assert settings.target_precision == 0.95
    assert settings.audit_rate == 0.02
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.admins == frozenset()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TRIAGE_TARGET_PRECISION", "1.7", "TRIAGE_TARGET_PRECISION=1.7 is invalid"),
        ("TRIAGE_TARGET_PRECISION", "high", "TRIAGE_TARGET_PRECISION=high is invalid"),
        ("TRIAGE_AUDIT_RATE", "-0.1", "TRIAGE_AUDIT_RATE=-0.1 is invalid"),
        ("PORT", "70000", "PORT=70000 is invalid"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL=mysql://x is invalid"),
        ("TRIAGE_ADMIN_GROUP", "@support-leads", "TRIAGE_ADMIN_GROUP=@support-leads is invalid"),
        ("SLACK_API_URL", "ftp://x", "SLACK_API_URL=ftp://x is invalid"),
        ("TRIAGE_LOG_LEVEL", "LOUD", "TRIAGE_LOG_LEVEL=LOUD is invalid"),
        ("TRIAGE_REMINDER_CHECK_SECONDS", "1", "TRIAGE_REMINDER_CHECK_SECONDS=1 is invalid"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value}, dotenv_path=None)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_lists_and_urls_are_normalised() -> None:
    settings = Settings.from_env(
        {
            "TRIAGE_ADMINS": "U1, U2,,",
            "TRIAGE_API_TOKEN": "a,b",
            "DATABASE_URL": "postgres://u:p@h/db",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "TRIAGE_REVIEW_CHANNEL": "#triage-review",
        },
        dotenv_path=None,
    )
    assert settings.admins == frozenset({"U1", "U2"})
    assert settings.api_tokens == ("a", "b")
    assert settings.database_url == "postgresql+psycopg://u:p@h/db"
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.review_channel == "triage-review"


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TRIAGE_AUDIT_RATE=0.1\nTRIAGE_TARGET_PRECISION=0.9\n")
    settings = Settings.from_env({"TRIAGE_AUDIT_RATE": "0.2"}, dotenv_path=dotenv)
    assert settings.audit_rate == 0.2
    assert settings.target_precision == 0.9


def test_secrets_stay_out_of_repr_and_errors() -> None:
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-secret", "TRIAGE_API_TOKEN": "tok-secret"}, dotenv_path=None
    )
    assert "secret" not in repr(settings)


def test_a_rejected_database_url_does_not_show_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://triage:s3cr@t@db.internal/x"}, dotenv_path=None)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL=mysql://triage:***@db.internal/x is invalid")
    assert "s3cr" not in message


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^([A-Z_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert documented == set(ENVIRONMENT_VARIABLES)


def test_to_env_gives_the_same_settings_in_another_process() -> None:
    settings = Settings.from_env(
        {
            "TRIAGE_ADMINS": "U2,U1",
            "TRIAGE_API_TOKEN": "b,a",
            "TRIAGE_TARGET_PRECISION": "0.97",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "TRIAGE_INTAKE_CHANNEL": "#intake",
        },
        dotenv_path=None,
    )
    assert Settings.from_env(settings.to_env(), dotenv_path=None) == settings
    assert set(settings.to_env()) == set(ENVIRONMENT_VARIABLES)


def test_command_defaults_give_way_to_env_and_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TRIAGE_AUDIT_RATE=0.3\n")
    defaults = {"TRIAGE_AUDIT_RATE": "0.1", "TRIAGE_RETRAIN_MIN_ANSWERS": "20", "PORT": "4000"}
    settings = Settings.from_env({"PORT": "5000"}, dotenv_path=dotenv, defaults=defaults)
    assert (settings.audit_rate, settings.retrain_min_answers, settings.port) == (0.3, 20, 5000)

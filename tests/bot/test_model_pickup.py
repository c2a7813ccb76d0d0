"""A running web process switches to a newly promoted model without a restart."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import SettingsError
from bot.settings import Settings
from classifier import TrainedModel
from tests.bot.conftest import RunningWeb, install_model


def test_promoted_model_is_used_by_the_next_tickets(
    web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    first = web.api("POST", "/api/tickets", json={"text": "Where is my new card?"}).json()
    assert first["model_version"] is None
    version = install_model(factory, trained)  # what the worker's promotion writes

    def picked_up() -> bool:
        answer = web.api("POST", "/api/tickets", json={"text": "Is my card on its way?"})
        assert answer.status_code == 201  # no request is dropped while the model switches
        return answer.json()["model_version"] == version

    # The fixture refreshes every 0.2 s; deployments every TRIAGE_MODEL_REFRESH_SECONDS (<= 60).
    web.fake.wait_until(picked_up, 10.0, "the web process to pick up the new model")


def test_model_refresh_interval_cannot_exceed_a_minute() -> None:
    with pytest.raises(SettingsError, match="TRIAGE_MODEL_REFRESH_SECONDS=120"):
        Settings.from_env({"TRIAGE_MODEL_REFRESH_SECONDS": "120"}, dotenv_path=None)

"""One error family: every error the code defines derives from `TriageError`, and each surface
(a JSON body, a Slack message, an ops alert) shows any of them as its reason."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.errors import error_text
from bot.errors import NotAdmin, TriageError
from bot.settings import Settings
from classifier import ClassifierError
from jobs.worker import WorkerContext, run_job
from storage.errors import StorageError
from storage.models import Alert

PACKAGES = ("classifier", "storage", "bot", "jobs")


def defined_exceptions() -> Iterator[type[BaseException]]:
    """Every exception class a module of the four packages defines (migrations aside)."""
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.startswith("storage.migrations"):
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseException)
                    and value.__module__ == module.__name__
                ):
                    yield value


def test_every_error_the_code_defines_derives_from_the_one_base() -> None:
    found = list(defined_exceptions())
    outside = sorted(
        f"{e.__module__}.{e.__qualname__}" for e in found if not issubclass(e, TriageError)
    )
    assert outside == []
    names = {e.__name__ for e in found}
    assert {"ClassifierError", "StorageError", "InvalidInput", "DeliveryError"} <= names


def test_slack_shows_the_reason_escaped_and_admins_as_mentions() -> None:
    assert error_text(StorageError("Run `triage db upgrade` <now> & retry")) == (
        "Run `triage db upgrade` &lt;now&gt; &amp; retry"
    )
    refusal = NotAdmin("use `/triage pause`", admins=("UADMIN",), group="SADMINS")
    assert error_text(refusal) == (
        "Only triage admins can use `/triage pause`. Ask <@UADMIN>, <!subteam^SADMINS>."
    )
    assert refusal.reason == "Only triage admins can use `/triage pause`. Ask UADMIN, SADMINS."


def test_a_job_failing_with_a_family_error_alerts_ops_with_its_reason(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    def deliver() -> int:
        raise StorageError("The database refused writes: the disk is full.")

    ctx = WorkerContext(
        settings=settings,
        factory=factory,
        now=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        deliver=deliver,
        permalink=lambda _channel, _ts: None,
    )
    run_job(ctx, "deliver")
    with factory() as session:
        [alert] = session.scalars(select(Alert))
    assert alert.content["severity"] == "FAILURE"
    assert alert.content["headline"] == (
        "The deliver job failed: The database refused writes: the disk is full."
    )
    assert isinstance(ClassifierError("x"), TriageError)

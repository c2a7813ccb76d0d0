"""Bad input to the admin commands of `triage`: one line naming the problem, exit status 2,
and nothing stored (the command-line twin of tests/bot/test_commands.py's argument errors)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditLogEntry, OutboxMessage, RuntimeSetting
from storage.queries.labels import ensure_labels
from tests.bot.conftest import NOW, Ran

ERRORS = [
    (["threshold"], "the following arguments are required: VALUE|tuned (usage: triage threshold"),
    (["threshold", "abc"], "The threshold `abc` must be a number from 0 to 1 (or 0–100%)."),
    (["threshold", "1.5"], "The threshold `1.5` must be a number from 0 to 1"),
    (
        ["threshold", "card_arival", "0.9"],
        "Label `card_arival` is unknown. Did you mean `card_arrival`?",
    ),
    (["threshold", "a", "b", "c"], "unrecognized arguments: c (see `triage threshold --help`)"),
    (["target", "0.3"], "The target precision must be above 0.5 and at most 0.999."),
    (["target", "high"], "The precision `high` must be a number"),
    (["audit", "120%"], "The audit rate `120%` must be a number"),
    (["quorum", "0"], "The quorum must be a whole number from 1 to 10."),
    (["quorum", "two"], "The quorum `two` must be a whole number."),
    (["floor", "2"], "The confidence floor `2` must be a number from 0 to 1"),
    (["pause", "now"], "unrecognized arguments: now (see `triage pause --help`)"),
    (["resume", "--as", "two words"], "`two words` is not an operator name"),
    (["resume", "--as", "x" * 61], "is not an operator name: up to 60 letters"),
    (["rollback"], "the following arguments are required: VERSION"),
    (["rollback", "v99"], "There is no model version 99."),
    (["rollback", "latest"], "The version `latest` must be a whole number."),
    (["stats", "2d"], "`2d` is not a period: use 1d, 7d or 30d."),
    (["labels", "add"], "the following arguments are required: NAME"),
    (["labels", "add", "bad<name>"], "`bad<name>` is not a valid label name"),
    (["labels", "add", "card_arrival"], "Label `card_arrival` already exists."),
    (["labels", "rename", "card_arrival"], "the following arguments are required: NEW"),
    (["labels", "rename", "card_arrival", "lost_card"], "Label `lost_card` already exists"),
    (["labels", "retire", "card_arival"], "Did you mean `card_arrival`?"),
    (
        ["labels", "route", "card_arrival", "not/a/channel"],
        "`not/a/channel` is not a channel: give",
    ),
    (["labels", "delete", "x"], "argument ACTION: invalid choice: 'delete'"),
    (["labels", "suggest", "create", "x"], "The topic `x` must be a whole number."),
    (["labels", "suggest", "dismiss", "9"], "There is no topic 9."),
    (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(("args", "reason"), ERRORS, ids=[" ".join(a)[:40] for a, _ in ERRORS])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    cli: Callable[..., Ran], factory: sessionmaker[Session], args: list[str], reason: str
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "lost_card"], session=session, now=NOW)
    ran = cli(*args)
    assert (ran.status, ran.out) == (2, "")
    [line] = ran.err.splitlines()
    assert line.startswith("triage: error: ") and reason in line, line
    with factory() as session:
        for table in (AuditLogEntry, RuntimeSetting, OutboxMessage):
            assert session.scalar(select(func.count()).select_from(table)) == 0

"""The plain-text answers of `triage` as data: Slack's wording without Slack's markup, and
announcements that name a command-line operator the way Slack can show them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.blocks.changes import build_announcement, change_confirmation
from bot.blocks.plain import change_text, labels_text, models_text, table
from bot.errors import InvalidInput
from bot.sandbox.slack import assert_valid_message
from bot.services.actors import command_line_actor, command_line_operator
from bot.services.admin import AdminChange, ChangeKind
from bot.services.admin_models import ModelSummary
from storage.models import Label, ModelStatus

WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_table_aligns_words_left_numbers_right_and_trims_the_end() -> None:
    assert table(
        ("NAME", "N", "NOTE"), [("a", "7", ""), ("longer", "1,234", "x")], numbers=(1,)
    ) == ("NAME        N  NOTE\na           7\nlonger  1,234  x")


@pytest.mark.parametrize(
    ("change", "plain", "slack"),
    [
        (
            AdminChange(ChangeKind.LABEL_ROUTED, "a&b", None, "C0ROUTE", announced=True),
            "Tickets labelled a&b now go to C0ROUTE. Announced in #ops.",
            "Tickets labelled a&amp;b now go to <#C0ROUTE>. Announced in #ops.",
        ),
        (
            AdminChange(ChangeKind.LABEL_ROUTED, "x", "refunds", "refunds", changed=False),
            "Label x already goes to #refunds. Nothing changed.",
            "Label x already goes to #refunds. Nothing changed.",
        ),
        (
            AdminChange(ChangeKind.LABEL_RENAMED, "<old>", "<old>", "new"),
            "Label <old> renamed to new, in history too; the model's suggestions use the new "
            "name from the next ticket. (No alerts channel is set, so it was not announced.)",
            "Label &lt;old&gt; renamed to new, in history too; the model's suggestions use the "
            "new name from the next ticket. (No alerts channel is set, so it was not announced.)",
        ),
    ],
)
def test_a_change_reads_as_in_slack_with_names_and_channels_unmarked(
    change: AdminChange, plain: str, slack: str
) -> None:
    alerts = "ops" if change.announced else None
    assert change_text(change, alerts_channel=alerts) == plain
    assert change_confirmation(change, alerts_channel=alerts) == slack


def test_an_announcement_names_a_command_line_operator_without_a_mention() -> None:
    change = AdminChange(ChangeKind.PAUSED, before=False, after=True)
    from_cli = build_announcement(change, actor="cli:ops-olga")
    from_slack = build_announcement(change, actor="UADMIN")
    assert_valid_message(from_cli)
    assert from_cli["text"] == (
        "Automatic labelling paused: every ticket now goes to review. (by ops-olga)"
    )
    assert from_cli["blocks"][1]["elements"][0]["text"] == (
        "Changed by ops-olga on the `triage` command line"
    )
    assert from_slack["blocks"][1]["elements"][0]["text"] == "Changed by <@UADMIN> with /triage"


def test_operators_are_recorded_with_the_command_line_prefix() -> None:
    assert command_line_actor("alice@example.com") == "cli:alice@example.com"
    assert command_line_operator("cli:alice") == "alice"
    assert command_line_operator("UALICE") is None
    assert len(command_line_actor("a" * 60)) == 64  # the audit log's actor column
    for bad in ("", "a" * 61, "two words", "<!channel>"):
        with pytest.raises(InvalidInput, match="is not an operator name"):
            command_line_actor(bad)


def test_labels_show_descriptions_as_written_and_cut_long_ones() -> None:
    labels = [
        Label(name="a", description="Money <b>back</b> & more", active=True, route_channel=None),
        Label(name="b", description="x" * 100, active=True, route_channel="C0ROUTE"),
        Label(name="gone", description=None, active=False, route_channel=None),
    ]
    assert labels_text(labels).splitlines() == [
        "2 active labels.",
        "LABEL  ROUTE    DESCRIPTION",
        "a      -        Money <b>back</b> & more",
        "b      C0ROUTE  " + "x" * 59 + "…",
        "Retired (1): gone",
    ]


def test_models_note_why_a_version_was_rejected() -> None:
    models = [
        ModelSummary(3, ModelStatus.REJECTED, 0.8, None, 1_200, WHEN, "accuracy 80.0% < 85.0%"),
        ModelSummary(2, ModelStatus.ACTIVE, 0.85, 0.6, 1_000, WHEN, "first model"),
    ]
    assert models_text(models).splitlines() == [
        "VERSION  STATUS    ACCURACY  AUTOMATED  EXAMPLES  TRAINED               NOTE",
        "v3       rejected     80.0%          -     1,200  2026-11-23 12:00 UTC  "
        "accuracy 80.0% < 85.0%",
        "v2       active       85.0%        60%     1,000  2026-11-23 12:00 UTC",
        "Switch to another version with `triage rollback VERSION`.",
    ]

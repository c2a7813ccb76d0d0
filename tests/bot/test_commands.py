"""`/triage` end to end: signed slash commands against the real server and the fake Slack."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utc_now
from bot.sandbox.slack import FakeSlack, assert_valid_message, signed_slash_command
from bot.services.policy import PAUSED, RETRAIN_REQUESTED
from bot.settings import Settings
from classifier import TrainedModel
from classifier.thresholds import corrected_precision
from storage.models import AuditLogEntry, Label, ModelVersion, Review, RuntimeSetting, Ticket
from storage.queries.labels import ensure_labels
from tests.bot.conftest import (
    ALERTS_CHANNEL,
    NOW,
    RunningWeb,
    install_model,
    install_two_models,
    serving,
    web_settings,
)
from tests.bot.steps import label_history, post_ticket, review_message, team_history

ADMIN, MEMBER = "UADMIN", "UBOB"


def triage(web: RunningWeb, secret: str, text: str, user: str = ADMIN) -> dict[str, Any]:
    """Send `/triage text`; return the answer (the ack, or the response_url post after it)."""
    url = web.fake.new_response_url()
    signed = signed_slash_command(secret, text=text, user_id=user, response_url=url)
    response = web.slack(signed)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    if answer.get("text") == "Working on it…":
        [answer] = web.fake.wait_for_response(url=url)
        assert answer["response_type"] == "ephemeral"
    assert_valid_message(answer)
    return answer


def shown(answer: dict[str, Any]) -> str:
    return answer["text"] + str(answer.get("blocks", ""))


def audit_log(factory: sessionmaker[Session]) -> list[AuditLogEntry]:
    with factory() as session:
        return list(session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)))


def alerts(web: RunningWeb, count: int) -> list[str]:
    calls = web.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.params["channel"] == ALERTS_CHANNEL,
        count=count,
    )
    return [call.params["text"] for call in calls]


def test_help_lists_admin_commands_only_to_admins(
    web: RunningWeb, slack_signing_secret: str
) -> None:
    member = triage(web, slack_signing_secret, "", user=MEMBER)["text"]
    admin = triage(web, slack_signing_secret, "help")["text"]
    assert "/triage stats" in member and "/triage queue" in member
    assert "threshold" not in member and "/triage threshold" in admin
    assert "/triage labels rename OLD NEW" in admin


def test_members_are_refused_admin_commands_clearly(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    for text in ("threshold 0.9", "retrain", "models", "labels add x", "pause"):
        answer = triage(web, slack_signing_secret, text, user=MEMBER)["text"]
        command = text.split()[0] if not text.startswith("labels") else "labels add"
        assert answer == f"Only triage admins can use `/triage {command}`. Ask <@UADMIN>."
    assert audit_log(factory) == []
    assert web.fake.calls_to("chat.postMessage") == []


def test_members_of_the_admin_user_group_are_admins(
    database_url: str,
    engine: Engine,
    fake_slack: FakeSlack,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    fake_slack.workspace.usergroups["SADMINS"] = ["UCAROL"]
    settings = web_settings(
        database_url, fake_slack, slack_signing_secret, TRIAGE_ADMIN_GROUP="SADMINS"
    )
    with serving(settings, engine, fake_slack) as web:
        assert (
            "/triage threshold" in triage(web, slack_signing_secret, "help", user="UCAROL")["text"]
        )
        paused = triage(web, slack_signing_secret, "pause", user="UCAROL")["text"]
        assert paused.startswith("Automatic labelling paused")
        refused = triage(web, slack_signing_secret, "resume", user=MEMBER)["text"]
        assert refused == (
            "Only triage admins can use `/triage resume`. Ask <@UADMIN>, <!subteam^SADMINS>."
        )
        triage(web, slack_signing_secret, "resume")  # TRIAGE_ADMINS still count
    assert [(e.actor, e.action, e.after) for e in audit_log(factory)] == [
        ("UCAROL", "set paused", {"paused": True}),
        ("UADMIN", "set paused", {"paused": False}),
    ]
    assert len(web.fake.calls_to("usergroups.users.list")) == 1  # kept, not asked per command


ARGUMENT_ERRORS = [
    ("threshold", "Wrong number of arguments."),
    ("threshold abc", "The threshold `abc` must be a number from 0 to 1"),
    ("threshold 1.5", "must be a number from 0 to 1"),
    ("threshold card_arival 0.9", "Label `card_arival` is unknown. Did you mean `card_arrival`?"),
    ("target 0.3", "The target precision must be above 0.5"),
    ("target high", "The precision `high` must be a number"),
    ("audit 120%", "The audit rate `120%` must be a number"),
    ("quorum 0", "The quorum must be a whole number from 1 to 10."),
    ("quorum two", "The quorum `two` must be a whole number."),
    ("pause now", "Wrong number of arguments."),
    ("rollback", "Wrong number of arguments."),
    ("rollback v99", "There is no model version 99."),
    ("rollback latest", "The version `latest` must be a whole number."),
    ("stats 2d", "`2d` is not a period: use 1d, 7d or 30d."),
    ("reviewers 1d 7d", "Wrong number of arguments."),
    ("labels add", "Wrong number of arguments."),
    ("labels add bad<name>", "`bad&lt;name&gt;` is not a valid label name"),
    ("labels add card_arrival", "Label `card_arrival` already exists."),
    ("labels rename card_arrival", "Wrong number of arguments."),
    ("labels rename card_arrival lost_card", "Label `lost_card` already exists"),
    ("labels retire card_arival", "Did you mean `card_arrival`?"),
    ("labels route card_arrival not/a/channel", "`not/a/channel` is not a channel"),
]


def test_every_argument_error_gets_the_reason_and_the_usage_line(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    with factory.begin() as session:
        ensure_labels(["card_arrival", "lost_card"], session=session, now=NOW)
    for text, reason in ARGUMENT_ERRORS:
        answer = triage(web, slack_signing_secret, text)["text"]
        command = text.split()[0] if not text.startswith("labels") else " ".join(text.split()[:2])
        assert reason in answer, (text, answer)
        assert f"Usage: `/triage {command}" in answer, (text, answer)
    unknown = triage(web, slack_signing_secret, "frobnicate <!channel>")["text"]
    assert unknown == "Unknown command `frobnicate`. See `/triage help`."
    sub = triage(web, slack_signing_secret, "labels delete x")["text"]
    assert "Unknown labels command `delete`" in sub and "/triage labels add NAME" in sub
    assert audit_log(factory) == []


def test_threshold_change_is_audited_announced_and_used_by_the_next_ticket(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    install_model(factory, trained)
    answer = triage(web, slack_signing_secret, "threshold 1")["text"]
    assert answer == (
        "Threshold for all labels set to 1.00 (was the model's tuned thresholds). "
        f"Announced in <#{ALERTS_CHANNEL}>."
    )
    assert post_ticket(web)["status"] == "pending"

    answer = triage(web, slack_signing_secret, "threshold 0%")["text"]
    assert answer.startswith("Threshold for all labels set to 0.00 (was 1.00).")
    assert post_ticket(web, external_id="second")["status"] == "auto"

    entries = audit_log(factory)
    assert [(e.actor, e.action, e.before, e.after) for e in entries] == [
        (ADMIN, "set threshold", {"threshold": None}, {"threshold": 1.0}),
        (ADMIN, "set threshold", {"threshold": 1.0}, {"threshold": 0.0}),
    ]
    posted = alerts(web, 2)
    assert "Threshold for all labels set to 1.00" in posted[0] and "<@UADMIN>" in posted[0]
    again = triage(web, slack_signing_secret, "threshold 0")["text"]
    assert again.endswith("Nothing changed.") and len(audit_log(factory)) == 2

    per_label = triage(web, slack_signing_secret, "threshold card_arrival 0.9")["text"]
    assert per_label.startswith("Threshold for card_arrival set to 0.90 (was the model's")
    tuned = triage(web, slack_signing_secret, "threshold tuned")["text"]
    assert tuned.startswith("Threshold for every label set to the model's tuned thresholds")


OTHER_TEXT = "How do I top up with Apple Pay?"  # the sample model does not say card_arrival


@pytest.fixture
def confident(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> RunningWeb:
    """The sample model active and, through `/triage threshold 0`, every prediction confident."""
    install_model(factory, trained)
    triage(web, slack_signing_secret, "threshold 0")
    return web


def test_pause_sends_the_next_ticket_to_review_and_resume_undoes_it(
    confident: RunningWeb, slack_signing_secret: str
) -> None:
    web = confident
    assert post_ticket(web, external_id="before")["status"] == "auto"
    triage(web, slack_signing_secret, "pause")
    paused = post_ticket(web, external_id="paused")
    assert (paused["status"], paused["decision"], paused["label"]) == ("pending", "review", None)
    assert paused["suggested_label"] == "card_arrival"  # the model still ran
    review_message(web)
    triage(web, slack_signing_secret, "resume")
    assert post_ticket(web, external_id="resumed")["status"] == "auto"


def test_a_label_threshold_holds_back_that_label_only(
    confident: RunningWeb, slack_signing_secret: str
) -> None:
    web = confident
    triage(web, slack_signing_secret, "threshold card_arrival 1")
    held = post_ticket(web, external_id="card")
    assert (held["status"], held["suggested_label"]) == ("pending", "card_arrival")
    other = post_ticket(web, OTHER_TEXT, external_id="other")
    assert other["status"] == "auto" and other["label"] not in (None, "card_arrival")
    triage(web, slack_signing_secret, "threshold card_arrival tuned")
    assert post_ticket(web, external_id="card again")["status"] == "auto"


def test_the_audit_rate_samples_the_next_confident_tickets(
    confident: RunningWeb, slack_signing_secret: str
) -> None:
    web = confident
    assert post_ticket(web, external_id="unaudited")["decision"] == "auto"
    triage(web, slack_signing_secret, "audit 100%")
    audited = post_ticket(web, external_id="audited")
    assert (audited["status"], audited["decision"]) == ("auto", "audit")
    assert "Audit" in review_message(web)["text"]
    triage(web, slack_signing_secret, "audit 0")
    assert post_ticket(web, external_id="after")["decision"] == "auto"


def test_settings_commands_store_their_values(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    target = triage(web, slack_signing_secret, "target 0.97")["text"]
    assert "Target precision set to 97.0% (was 95.0%)" in target
    assert "the next retraining tunes thresholds for it" in target
    assert "Audit rate set to 5.0%" in triage(web, slack_signing_secret, "audit 5%")["text"]
    assert "Quorum set to 2" in triage(web, slack_signing_secret, "quorum 2")["text"]
    assert "paused" in triage(web, slack_signing_secret, "pause")["text"]
    again = triage(web, slack_signing_secret, "pause")["text"]
    assert again == "Automatic labelling is already paused. Nothing changed."
    retrain = triage(web, slack_signing_secret, "retrain")["text"]
    assert retrain == (
        "Retraining requested; the worker starts it within a minute "
        f"and posts the result in <#{ALERTS_CHANNEL}>."
    )
    with factory() as session:
        stored = {r.key: r.value for r in session.scalars(select(RuntimeSetting))}
    assert stored["target_precision"] == 0.97 and stored["audit_rate"] == 0.05
    assert stored["quorum"] == 2 and stored[PAUSED] is True
    assert stored[RETRAIN_REQUESTED]["by"] == ADMIN and stored[RETRAIN_REQUESTED]["at"]
    assert "resumed" in triage(web, slack_signing_secret, "resume")["text"]
    assert len(audit_log(factory)) == 6
    assert len(alerts(web, 6)) == 6


def test_label_commands_rename_everywhere_retire_and_route(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    label_history(factory)

    added = triage(web, slack_signing_secret, "labels add refund_request Money &lt;b&gt;back")
    assert added["text"].startswith("Label refund_request added.")
    renamed = triage(web, slack_signing_secret, "labels rename card_arrival card_late")["text"]
    assert "renamed to card_late, in history too" in renamed
    assert (
        "Label lost_card retired"
        in triage(web, slack_signing_secret, "labels retire lost_card")["text"]
    )
    routed = triage(web, slack_signing_secret, "labels route card_late <#C0ROUTE|card-team>")
    assert routed["text"].startswith("Tickets labelled card_late now go to <#C0ROUTE>.")
    by_name = triage(web, slack_signing_secret, "labels route refund_request #refunds")
    assert "now go to #refunds" in by_name["text"]

    listed = shown(triage(web, slack_signing_secret, "labels"))
    assert "*card_late*" in listed and "Money &lt;b&gt;back" in listed
    assert "<#C0ROUTE>" in listed and "_Retired (1):_ lost_card" in listed
    with factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.predicted_label, ticket.final_label) == ("card_late", "card_late")
        assert session.scalars(select(Review.label)).one() == "card_late"
        labels = {label.name: label for label in session.scalars(select(Label))}
        assert set(labels) == {"card_late", "lost_card", "refund_request"}
        assert labels["lost_card"].active is False
        assert labels["card_late"].route_channel == "C0ROUTE"
        assert labels["refund_request"].route_channel == "refunds"
        overrides = session.get(RuntimeSetting, "label_thresholds")
        assert overrides is not None and overrides.value == {"card_late": 0.9}
    actions = [e.action for e in audit_log(factory)]
    assert actions[1:] == [
        "add label",
        "set label_thresholds",
        "set label_renames",
        "rename label",
        "retire label",
        "route label",
        "route label",
    ]
    assert len(alerts(web, 5)) == 5


def test_the_next_ticket_follows_a_rename_and_a_retirement(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    """The model still says card_arrival until it is retrained: its tickets must not."""
    install_model(factory, trained)
    triage(web, slack_signing_secret, "threshold 0")
    assert post_ticket(web, external_id="before")["label"] == "card_arrival"

    triage(web, slack_signing_secret, "labels rename card_arrival card_late")
    triage(web, slack_signing_secret, "labels route card_late <#C0ROUTE|card-team>")
    renamed = post_ticket(web, external_id="renamed")
    assert (renamed["status"], renamed["label"]) == ("auto", "card_late")
    assert renamed["suggested_label"] == "card_late"
    [route] = web.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.params["channel"] == "C0ROUTE"
    )
    assert "card_late" in route.params["text"]

    retired = triage(web, slack_signing_secret, "labels retire card_late")["text"]
    assert "tickets the model still gives it go to review" in retired
    held = post_ticket(web, external_id="retired")
    assert (held["status"], held["decision"], held["label"]) == ("pending", "review", None)
    assert held["suggested_label"] not in ("card_late", "card_arrival")
    message = review_message(web)
    assert "card_late" not in str(message["blocks"]) and "card_arrival" not in str(message)


def test_stats_queue_and_reviewers_answer_through_the_response_url(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    web = reviewing
    created = post_ticket(web)
    message = review_message(web)

    queue = shown(triage(web, slack_signing_secret, "queue", user=MEMBER))
    link = f"https://fake.slack/archives/{message['channel']}/p{message['ts'].replace('.', '')}"
    assert "*1 ticket waiting for review" in queue
    assert f"<{link}|Ticket #{created['id']}>" in queue

    stats = shown(triage(web, slack_signing_secret, "stats 30d", user=MEMBER))
    assert "*Last 30 days:* 1 ticket in" in stats and "no audits answered yet" in stats
    assert "Waiting for review now: 1" in stats
    reviewers = shown(triage(web, slack_signing_secret, "reviewers"))
    assert reviewers == "Nobody answered a review in the last 7 days."


def test_models_and_rollback(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    first, second = install_two_models(factory, trained)

    models = shown(triage(web, slack_signing_secret, "models"))
    assert f"*v{second}* · active" in models and f"*v{first}* · retired" in models
    assert "/triage rollback VERSION" in models

    answer = triage(web, slack_signing_secret, f"rollback v{first}")["text"]
    assert answer.startswith(f"Model v{first} is now active (was v{second}).")
    assert "already active" in triage(web, slack_signing_secret, f"rollback {first}")["text"]
    with factory() as session:
        assert session.get(ModelVersion, first).status == "active"  # type: ignore[union-attr]
    [entry] = audit_log(factory)
    assert (entry.before, entry.after) == ({"active_version": second}, {"active_version": first})
    assert f"Model v{first} is now active" in alerts(web, 1)[0]
    assert post_ticket(web)["model_version"] == first


@pytest.mark.parametrize("text", ["help", "stats", "stats 1d", "queue"])
def test_public_commands_work_on_an_empty_service(
    web: RunningWeb, slack_signing_secret: str, text: str
) -> None:
    answer = shown(triage(web, slack_signing_secret, text, user=MEMBER))
    assert "Something went wrong" not in answer


def test_the_floor_holds_back_the_next_ticket_whatever_the_threshold(
    confident: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    web = confident
    before = post_ticket(web, external_id="before")
    assert before["status"] == "auto" and before["confidence"] < 1.0
    answer = triage(web, slack_signing_secret, "floor 100%")
    was = f"{Settings().confidence_floor:.0%}"
    assert f"Confidence floor set to 100% (was {was})" in shown(answer)
    held = post_ticket(web, external_id="held")
    assert (held["status"], held["suggested_label"]) == ("pending", "card_arrival")
    triage(web, slack_signing_secret, "floor 0.5")
    assert post_ticket(web, external_id="after")["status"] == "auto"
    assert [e.action for e in audit_log(factory)][1:] == ["set confidence_floor"] * 2
    assert "floor `1.5` must be a number from 0 to 1" in shown(
        triage(web, slack_signing_secret, "floor 1.5")
    )


def test_labels_suggest_lists_dismisses_and_refuses_unknown_topics(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    from tests.bot.test_topics import VAULT, found_topic, plant

    plant(factory, VAULT)
    topic = found_topic(factory, web.process.deps.settings)
    listed = triage(web, slack_signing_secret, "labels suggest")
    assert f"Suggested label *{topic.proposed_label}*" in shown(listed)
    assert "triage_topic_create" in shown(listed)
    missing = triage(web, slack_signing_secret, "labels suggest create 999")
    assert "There is no topic 999" in shown(missing)
    dismissed = triage(web, slack_signing_secret, f"labels suggest dismiss {topic.id}")
    assert f"topic #{topic.id}) dismissed" in shown(dismissed)
    assert "No new topics" in shown(triage(web, slack_signing_secret, "labels suggest"))
    refused = triage(web, slack_signing_secret, "labels suggest", user=MEMBER)
    assert "Only triage admins" in shown(refused)


def test_reviewers_shows_estimated_accuracy_to_admins_for_all_and_to_an_agent_for_themselves(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    team_history(factory)
    everyone = shown(triage(web, slack_signing_secret, "reviewers 30d"))
    estimated = {
        user: float(re.search(rf"<@{user}>[^\n]*?estimated accuracy (\d+)%", everyone)[1])
        for user in ("UALICE", "UDAVE", "UCARELESS")
    }
    # UCARELESS was wrong on 10 of 50 answers; the others never
    assert 75 <= estimated["UCARELESS"] <= 85 < 90 < min(estimated["UALICE"], estimated["UDAVE"])
    assert re.search(r"estimated accuracy \d+% \(\d+%–\d+%", everyone)

    own = shown(triage(web, slack_signing_secret, "reviewers 30d", user="UCARELESS"))
    assert "*Your answers, last 30 days*" in own and "<@UCARELESS>" in own
    assert "UALICE" not in own and "UDAVE" not in own
    nobody = shown(triage(web, slack_signing_secret, "reviewers", user=MEMBER))
    assert nobody == "You answered no review in the last 7 days."


def test_stats_corrects_audit_precision_for_the_auditors_estimated_error(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    before = shown(triage(web, slack_signing_secret, "stats 30d"))
    assert "no audits answered yet" in before
    team_history(factory)  # UCARELESS is right on about 80% of shared tickets
    moment = utc_now() - timedelta(hours=1)
    with factory.begin() as session:
        for i in range(40):
            answer = "card_linking" if i % 10 == 0 else "card_arrival"  # 4 disagree
            ticket = Ticket(
                text=f"audited {i}",
                source="api",
                status="auto",
                decision="audit",
                predicted_label="card_arrival",
                final_label=answer,
                decided_by="UCARELESS",
                decided_at=moment,
                created_at=moment,
            )
            session.add(ticket)
            session.add(
                Review(
                    ticket=ticket,
                    slack_user="UCARELESS",
                    label=answer,
                    kind="audit",
                    created_at=moment,
                )
            )
    stats = shown(triage(web, slack_signing_secret, "stats 30d"))
    found = re.search(
        r"(\d+\.\d)% \(\S+\) corrected for an estimated (\d+\.\d)% of wrong audit answers; "
        r"measured 90\.0%",
        stats,
    )
    assert found is not None, stats
    corrected, error = float(found[1]), float(found[2])
    # The least error UCARELESS's interval allows, so the correction stays cautious.
    assert 2.0 < error < 20.0 and 90.0 < corrected <= 100.0


def test_stats_shows_the_audits_powered_by_the_models_confidence_beside_the_share(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    team_history(factory)  # UCARELESS, the auditor, is right on about 80% of shared tickets
    moment = utc_now() - timedelta(hours=1)
    with factory.begin() as session:
        for i in range(140):
            audited = i < 40
            answer = "card_linking" if audited and i % 10 == 0 else "card_arrival"
            ticket = Ticket(
                text=f"automated {i}",
                source="api",
                status="auto",
                decision="audit" if audited else "auto",
                predicted_label="card_arrival",
                confidence=0.8 if audited else 0.75,
                final_label=answer,
                decided_by="UCARELESS" if audited else None,
                decided_at=moment,
                created_at=moment,
            )
            session.add(ticket)
            if audited:
                session.add(
                    Review(
                        ticket=ticket,
                        slack_user="UCARELESS",
                        label=answer,
                        kind="audit",
                        created_at=moment,
                    )
                )
    stats = shown(triage(web, slack_signing_secret, "stats 30d"))
    found = re.search(
        r"(\d+\.\d)% \((\d+\.\d)%–(\d+\.\d)%\) estimated from 40 audits and the model's "
        r"confidence on 140 automated tickets, corrected for an estimated (\d+\.\d)% of wrong "
        r"audit answers · audit share: \S+ \(\S+\) corrected for an estimated \d+\.\d% of wrong "
        r"audit answers; measured 90\.0% \(\S+, 40 audits\)",
        stats,
    )
    assert found is not None, stats
    value, low, high, error = (float(found[k]) / 100 for k in range(1, 5))
    # The mean confidence (100 x 0.75 + 40 x 0.8) / 140, plus the rectifier: 36 of 40 agreed
    # at 80% confidence, (36 x 0.2 - 4 x 0.8) / 40; then corrected for UCARELESS's least error
    assert value == pytest.approx(corrected_precision(107 / 140 + 0.1, error), abs=0.0015)
    assert low < value < high

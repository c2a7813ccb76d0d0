"""The review loop end to end: API -> review message in (fake) Slack -> signed click -> label."""

from __future__ import annotations

import concurrent.futures

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.sandbox.slack import assert_valid_message, sign, signed_block_action
from bot.services.policy import AUDIT_RATE, THRESHOLD
from classifier import TrainedModel
from storage.models import OutboxKind, OutboxMessage, Ticket
from storage.queries.labels import label_by_name
from tests.bot.conftest import REVIEW_CHANNEL, RunningWeb, install_model, set_policy
from tests.bot.steps import CARD_TEXT, click, element, post_ticket, review_message, reviews


def test_uncertain_ticket_is_reviewed_and_labelled_in_slack(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    version = install_model(factory, trained)
    set_policy(factory, THRESHOLD, 1.0)  # nothing is confident enough: everything to review
    created = post_ticket(web, external_id="zd-1", source="zendesk")
    assert created["status"] == "pending" and created["label"] is None
    assert created["model_version"] == version

    message = review_message(web)
    assert_valid_message(message)
    suggestions = [
        e
        for b in message["blocks"]
        for e in b.get("elements", [])
        if ids.SUGGEST_PATTERN.match(e.get("action_id", ""))
    ]
    assert 1 <= len(suggestions) <= 5
    assert all("%" in s["text"]["text"] and "style" not in s for s in suggestions)
    picker = element(message, ids.PICK_LABEL)
    assert picker["type"] == "static_select" and len(picker["options"]) == 77
    element(message, ids.SKIP)
    assert "Sent to review" in str(message["blocks"])

    chosen = suggestions[1]["value"]
    status, _ = click(
        web, slack_signing_secret, message, suggestions[1]["action_id"], user="UALICE"
    )
    assert status == 200

    update = web.fake.wait_for("chat.update")[-1]
    assert update.params["ts"] == message["ts"]
    decided = web.fake.messages(REVIEW_CHANNEL)[0]
    assert_valid_message(decided)
    assert f"*{chosen}* — chosen by <@UALICE>" in decided["blocks"][0]["text"]["text"]
    element(decided, ids.UNDO)

    state = web.api("GET", f"/api/tickets/{created['id']}").json()
    assert state["status"] == "labelled"
    assert state["label"] == chosen
    assert state["decided_by"] == "UALICE"
    assert state["decided_at"] is not None

    again = web.api(
        "POST", "/api/tickets", json={"text": CARD_TEXT, "external_id": "zd-1", "source": "zendesk"}
    )
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    posts = [
        c for c in web.fake.calls_to("chat.postMessage") if c.params["channel"] == REVIEW_CHANNEL
    ]
    assert len(posts) == 1


def test_late_and_double_clicks_record_one_answer(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    web = reviewing
    post_ticket(web)
    message = review_message(web)
    first = element(message, f"{ids.SUGGEST}_0")["value"]
    click(web, slack_signing_secret, message, f"{ids.SUGGEST}_0", user="UALICE")
    click(web, slack_signing_secret, message, f"{ids.SUGGEST}_0", user="UALICE")
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UBOB", option="exchange_rate")
    web.fake.wait_for_response(count=2)
    replies = [body["text"] for _, body in web.fake.responses]
    assert f"Already labelled *{first}* by <@UALICE>." in replies
    assert all(body.get("response_type") == "ephemeral" for _, body in web.fake.responses)
    assert [(r.slack_user, r.label) for r in reviews(factory)] == [("UALICE", first)]


def test_concurrent_clicks_on_different_labels_end_in_one_decision(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    web = reviewing
    created = post_ticket(web)
    message = review_message(web)
    people = [
        ("UALICE", "card_arrival"),
        ("UBOB", "card_delivery_estimate"),
        ("UCAROL", "lost_or_stolen_card"),
        ("UDAVE", "exchange_rate"),
    ]
    with concurrent.futures.ThreadPoolExecutor(len(people)) as pool:
        statuses = list(
            pool.map(
                lambda p: click(
                    web, slack_signing_secret, message, ids.PICK_LABEL, user=p[0], option=p[1]
                )[0],
                people,
            )
        )
    assert statuses == [200] * len(people)
    web.fake.wait_for_response(count=len(people) - 1)
    answers = reviews(factory)
    assert len(answers) == 1
    winner = answers[0]
    state = web.api("GET", f"/api/tickets/{created['id']}").json()
    assert (state["label"], state["decided_by"]) == (winner.label, winner.slack_user)
    replies = [body["text"] for _, body in web.fake.responses]
    assert replies.count(f"Already labelled *{winner.label}* by <@{winner.slack_user}>.") == 3


def test_skip_then_undo(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    web = reviewing
    created = post_ticket(web)
    message = review_message(web)
    click(web, slack_signing_secret, message, ids.SKIP, user="UBOB")
    web.fake.wait_for("chat.update")
    skipped = web.fake.messages(REVIEW_CHANNEL)[0]
    assert "skipped by <@UBOB>" in str(skipped["blocks"])
    element(skipped, ids.PICK_LABEL)  # still open for others

    click(web, slack_signing_secret, skipped, ids.PICK_LABEL, user="UALICE", option="card_arrival")
    web.fake.wait_for("chat.update", count=2)
    decided = web.fake.messages(REVIEW_CHANNEL)[0]
    click(web, slack_signing_secret, decided, ids.UNDO, user="UBOB")
    web.fake.wait_for_response()
    assert "Only <@UALICE>" in web.fake.responses[-1][1]["text"]

    click(web, slack_signing_secret, decided, ids.UNDO, user="UALICE")
    web.fake.wait_for("chat.update", count=3)
    reopened = web.fake.messages(REVIEW_CHANNEL)[0]
    element(reopened, ids.PICK_LABEL)
    assert web.api("GET", f"/api/tickets/{created['id']}").json()["status"] == "pending"
    kinds = [(r.slack_user, r.label, r.undone_at is not None) for r in reviews(factory)]
    assert kinds == [("UBOB", None, False), ("UALICE", "card_arrival", True)]


def route_every_label(factory: sessionmaker[Session], channel: str) -> None:
    with factory.begin() as session:
        for name in ("card_arrival", "exchange_rate"):
            label = label_by_name(name, session=session)
            assert label is not None
            label.route_channel = channel


def route_posts(web: RunningWeb) -> list[dict[str, object]]:
    return [
        c.params
        for c in web.fake.calls_to("chat.postMessage", include_faulty=False)
        if c.params["channel"] == "CROUTE"
    ]


def test_undo_edits_the_route_post_and_tells_the_callback_and_a_new_choice_routes_once(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    web = reviewing
    route_every_label(factory, "CROUTE")
    callback = web.fake.new_callback_url()
    created = post_ticket(web, callback_url=callback)
    message = review_message(web)
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UALICE", option="card_arrival")
    [labelled] = web.fake.wait_for_callback(url=callback)
    assert (labelled["status"], labelled["label"]) == ("labelled", "card_arrival")
    [route] = web.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.params["channel"] == "CROUTE"
    )

    def route_delivered() -> bool:  # the deliverer commits just after Slack answers
        with factory() as session:
            query = select(OutboxMessage.delivered_at).where(OutboxMessage.kind == OutboxKind.ROUTE)
            return all(session.scalars(query))

    web.fake.wait_until(route_delivered, what="the route post to be recorded")
    web.fake.wait_until(lambda: "chosen by" in str(web.fake.messages(REVIEW_CHANNEL)[0]["blocks"]))
    decided = web.fake.messages(REVIEW_CHANNEL)[0]
    click(web, slack_signing_secret, decided, ids.UNDO, user="UALICE")

    edit = web.fake.wait_for(
        lambda c: c.method == "chat.update" and c.params["channel"] == "CROUTE"
    )[0]
    assert edit.params["ts"] == route.response["ts"]
    [undone] = web.fake.messages("CROUTE")
    assert "~card_arrival~ was undone by <@UALICE>" in str(undone["blocks"])
    reopened = web.fake.wait_for_callback(count=2, url=callback)[1]
    assert (reopened["status"], reopened["label"], reopened["decided_by"]) == (
        "pending",
        None,
        None,
    )

    web.fake.wait_until(lambda: "chosen by" not in str(web.fake.messages(REVIEW_CHANNEL)[0]))
    review = web.fake.messages(REVIEW_CHANNEL)[0]
    click(web, slack_signing_secret, review, ids.PICK_LABEL, user="UBOB", option="exchange_rate")
    final = web.fake.wait_for_callback(count=3, url=callback)[2]
    assert (final["label"], final["decided_by"]) == ("exchange_rate", "UBOB")
    web.fake.wait_until(lambda: len(route_posts(web)) == 2, what="the new route post")
    web.fake.wait_until(route_delivered, what="every route post to be recorded")
    assert len(route_posts(web)) == 2 and len(web.fake.wait_for_callback(url=callback)) == 3
    state = web.api("GET", f"/api/tickets/{created['id']}").json()
    assert (state["label"], state["decided_by"]) == ("exchange_rate", "UBOB")


def test_bad_or_stale_signature_is_refused_and_changes_nothing(
    reviewing: RunningWeb,
    factory: sessionmaker[Session],
    slack_signing_secret: str,
) -> None:
    web = reviewing
    post_ticket(web)
    message = review_message(web)
    target = element(message, ids.PICK_LABEL)
    body, headers = signed_block_action(
        slack_signing_secret,
        user_id="UMALLORY",
        action_id=ids.PICK_LABEL,
        block_id=target["block_id"],
        selected_option_value="card_arrival",
        channel_id=message["channel"],
        message_ts=message["ts"],
        message=message,
        response_url=web.fake.new_response_url(),
    )
    wrong = {**headers, **sign("not-the-secret", body, int(headers["X-Slack-Request-Timestamp"]))}
    assert web.slack((body, wrong)).status_code == 401
    stale_time = int(headers["X-Slack-Request-Timestamp"]) - 6 * 60
    stale = {**headers, **sign(slack_signing_secret, body, stale_time)}
    assert web.slack((body, stale)).status_code == 401
    assert reviews(factory) == []
    assert web.fake.calls_to("chat.update") == []


def test_review_arrives_after_a_slack_outage_and_a_rate_limit(
    reviewing: RunningWeb, factory: sessionmaker[Session]
) -> None:
    web = reviewing
    web.fake.set_down(True)
    created = post_ticket(web)  # answered at once although Slack is down
    web.fake.wait_for("chat.postMessage", count=2, include_faulty=True)
    web.fake.set_down(False)
    web.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    message = review_message(web)
    assert f"Ticket #{created['id']}" in message["text"]
    ok_posts = [c for c in web.fake.calls_to("chat.postMessage") if c.ok]
    assert len(ok_posts) == 1

    def remembered() -> bool:
        with factory() as session:
            ticket = session.get(Ticket, created["id"])
            return ticket is not None and ticket.slack_ts == message["ts"]

    web.fake.wait_until(remembered, 5.0, "the ticket to remember its message ts")


def test_confident_ticket_is_routed_and_reported_to_its_callback(
    web: RunningWeb, factory: sessionmaker[Session], trained: TrainedModel
) -> None:
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 0.0)  # everything confident
    callback = web.fake.new_callback_url()
    with factory.begin() as session:
        from storage.queries.labels import label_by_name

        for name in trained.model.classes_:
            label = label_by_name(str(name), session=session)
            assert label is not None
            label.route_channel = "CROUTE"
    created = post_ticket(web, callback_url=callback)
    assert created["status"] == "auto" and created["label"] is not None
    web.fake.wait_for(lambda c: c.method == "chat.postMessage" and c.params["channel"] == "CROUTE")
    [body] = web.fake.wait_for_callback(url=callback)
    assert body["id"] == created["id"] and body["label"] == created["label"]
    review_posts = [
        c for c in web.fake.calls_to("chat.postMessage") if c.params["channel"] == REVIEW_CHANNEL
    ]
    assert review_posts == []


def test_audit_message_hides_the_models_answer(
    web: RunningWeb,
    factory: sessionmaker[Session],
    trained: TrainedModel,
    slack_signing_secret: str,
) -> None:
    install_model(factory, trained)
    set_policy(factory, THRESHOLD, 0.0)
    set_policy(factory, AUDIT_RATE, 1.0)
    created = post_ticket(web)
    assert created["status"] == "auto"
    message = review_message(web)
    assert_valid_message(message)
    shown = str(message["blocks"])
    assert (
        "Audit" in shown
        and "%" not in shown
        and created["label"]
        not in shown.replace(str(element(message, ids.PICK_LABEL)["options"]), "")
    )
    click(web, slack_signing_secret, message, ids.PICK_LABEL, user="UALICE", option="exchange_rate")
    web.fake.wait_for("chat.update")
    [answer] = reviews(factory)
    assert (answer.kind, answer.label) == ("audit", "exchange_rate")
    state = web.api("GET", f"/api/tickets/{created['id']}").json()
    assert state["label"] == "exchange_rate" and state["decided_by"] == "UALICE"


def test_hostile_text_is_stored_intact_and_rendered_harmlessly(
    web: RunningWeb, factory: sessionmaker[Session]
) -> None:
    hostile = (
        "<!channel> please <https://evil.example|click here> & pay\u202e\U0001f4b3 " + "x" * 4000
    )
    created = post_ticket(web, hostile)
    message = review_message(web)
    assert_valid_message(message)
    shown = str(message["blocks"])
    assert "<!channel>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt;" in shown and "&amp; pay" in shown
    with factory() as session:
        ticket = session.get(Ticket, created["id"])
        assert ticket is not None and ticket.text == hostile.strip()
    thread = web.fake.wait_for(lambda c: c.method == "chat.postMessage" and "thread_ts" in c.params)
    assert thread[0].params["thread_ts"] == message["ts"]
    full = "".join(b["text"]["text"] for b in thread[0].params["blocks"])
    assert full.count("x") >= 4000 and "<!channel>" not in full

    too_long = web.api("POST", "/api/tickets", json={"text": "y" * 50_000})
    assert too_long.status_code == 422 and "20,000" in too_long.json()["error"]
    nul = web.api("POST", "/api/tickets", json={"text": "a\x00b"})
    assert nul.status_code == 422 and "NUL" in nul.json()["error"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1

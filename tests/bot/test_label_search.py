"""The searchable label picker: Slack's options-load request gets matching active labels."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import ids
from bot.listeners.options.label_search import matching
from bot.sandbox.slack import signed_block_suggestion
from storage.queries.labels import ensure_labels, label_by_name
from tests.bot.conftest import NOW, RunningWeb


def test_typed_text_returns_active_labels_prefix_matches_first(
    web: RunningWeb, factory: sessionmaker[Session], slack_signing_secret: str
) -> None:
    names = [f"label_{i:03d}" for i in range(150)] + ["card_arrival", "lost_card", "old_card"]
    with factory.begin() as session:
        ensure_labels(names, session=session, now=NOW)
        retired = label_by_name("old_card", session=session)
        assert retired is not None
        retired.active = False
    signed = signed_block_suggestion(
        slack_signing_secret,
        user_id="UALICE",
        action_id=ids.PICK_LABEL,
        value="card",
        block_id="ticket:1:pick",
    )
    response = web.slack(signed)
    assert response.status_code == 200
    options = [o["value"] for o in response.json()["options"]]
    assert options == ["card_arrival", "lost_card"]

    everything = web.slack(
        signed_block_suggestion(
            slack_signing_secret,
            user_id="UALICE",
            action_id=ids.PICK_LABEL,
            value="",
        )
    ).json()["options"]
    assert len(everything) == 100  # Slack's cap on one options answer


def test_matching_orders_prefixes_before_substrings() -> None:
    assert matching(["lost_card", "card_arrival", "cardigan"], "CARD") == [
        "card_arrival",
        "cardigan",
        "lost_card",
    ]

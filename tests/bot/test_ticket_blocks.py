"""Ticket message builders as data: limits, escaping, and what each state shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.blocks import ids
from bot.blocks.text import chunks, escape, quote, unescape
from bot.blocks.ticket import build_full_text_reply, build_ticket_message
from bot.sandbox.slack import assert_valid_message
from bot.services.cards import Decided, TicketCard
from bot.words import counted, duration

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def card(**changes: object) -> TicketCard:
    base = TicketCard(
        ticket_id=1042,
        text="I still haven't received my card",
        source="api/zendesk",
        created_at=NOW - timedelta(minutes=2),
        kind="review",
        labels=tuple(f"label_{i:03d}" for i in range(77)),
        suggestions=(("card_arrival", 0.54), ("card_delivery_estimate", 0.31), ("x" * 100, 0.06)),
        model_version=7,
        threshold=0.78,
        waiting=12,
    )
    return TicketCard(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def actions(message: dict) -> list[dict]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_review_message_shows_suggestions_picker_skip_and_reason() -> None:
    message = build_ticket_message(card(), now=NOW)
    assert_valid_message(message)
    buttons = [e for e in actions(message) if e["type"] == "button"]
    assert [b["text"]["text"] for b in buttons[:2]] == [
        "card_arrival 54%",
        "card_delivery_estimate 31%",
    ]
    assert len(buttons[2]["text"]["text"]) <= 75 and buttons[2]["value"] == "x" * 100
    assert buttons[-1]["action_id"] == ids.SKIP
    assert "54% is under the 78% needed for card_arrival · 12 waiting" in str(message["blocks"])


def test_many_labels_use_a_searchable_external_select() -> None:
    message = build_ticket_message(card(labels=tuple(f"l{i}" for i in range(150))), now=NOW)
    assert_valid_message(message)
    [picker] = [e for e in actions(message) if e["action_id"] == ids.PICK_LABEL]
    assert picker["type"] == "external_select" and "options" not in picker


def test_audit_hides_the_model() -> None:
    message = build_ticket_message(card(kind="audit"), now=NOW)
    assert_valid_message(message)
    text = str(message)
    assert "card_arrival" not in text and "%" not in text and "hidden on purpose" in text


def test_decided_message_offers_undo_only_within_the_window() -> None:
    decided = Decided(
        "card_delivery_estimate", "UALICE", NOW, undo_until=NOW + timedelta(minutes=5)
    )
    fresh = build_ticket_message(card(decided=decided), now=NOW + timedelta(minutes=1))
    assert_valid_message(fresh)
    headline = fresh["blocks"][0]["text"]["text"]
    assert "*card_delivery_estimate* — chosen by <@UALICE> after 2 min" in headline
    assert "model suggested card_arrival (54%)" in headline
    assert fresh["blocks"][0]["accessory"]["action_id"] == ids.UNDO
    later = build_ticket_message(card(decided=decided), now=NOW + timedelta(minutes=6))
    assert "accessory" not in later["blocks"][0]


def test_long_hostile_text_is_cut_escaped_and_posted_whole_in_the_thread() -> None:
    text = "<!here> <@U1> & " + "é" * 30_000
    message = build_ticket_message(card(text=text), now=NOW)
    assert_valid_message(message)
    body = message["blocks"][1]["text"]["text"]
    assert "&lt;!here&gt; &lt;@U1&gt; &amp;" in body and "full text in thread" in body
    reply = build_full_text_reply(text)
    assert_valid_message(reply)
    assert "".join(b["text"]["text"] for b in reply["blocks"]) == escape(text)


def test_text_helpers() -> None:
    assert quote("a\nb") == "> a\n> b"
    assert chunks("<<", 4) == ["&lt;", "&lt;"]
    typed = "a & b <3 &lt; &amp;gt; <@U1>"
    assert unescape(escape(typed)) == typed and escape(unescape(escape(typed))) == escape(typed)
    assert [duration(s) for s in (5, 120, 3_900, 90_000)] == [
        "5 s",
        "2 min",
        "1 h 5 min",
        "1 d 1 h",
    ]
    assert [counted(n, "ticket") for n in (0, 1, 2)] == ["0 tickets", "1 ticket", "2 tickets"]


def test_the_subject_is_shown_bold_above_the_text_escaped_on_one_line() -> None:
    for kind in ("review", "audit"):
        message = build_ticket_message(
            card(kind=kind, subject="Card <late>\n& lost *now*"), now=NOW
        )
        assert_valid_message(message)
        [quoted] = [b for b in message["blocks"] if "> I still" in str(b)]
        assert quoted["text"]["text"].startswith(
            "*Card &lt;late&gt; &amp; lost *now**\n> I still haven't received my card"
        )
    long = build_ticket_message(card(subject="s" * 5_000), now=NOW)
    assert_valid_message(long)
    assert "s" * 200 not in str(long) and "s" * 198 + "…" in str(long)
    erased = build_ticket_message(card(subject="Card late", erased=True), now=NOW)
    assert "Card late" not in str(erased)
    blank = build_ticket_message(card(subject="   "), now=NOW)["blocks"][1]
    assert blank["text"]["text"].startswith("> I still")


def test_a_label_from_the_helpdesk_names_the_agent_without_a_mention_or_undo() -> None:
    decided = Decided("card_arrival", "helpdesk:ann.lee", NOW, undo_until=None)
    message = build_ticket_message(card(decided=decided), now=NOW)
    assert_valid_message(message)
    assert "chosen by ann.lee (helpdesk) after 2 min" in str(message["blocks"])
    assert "<@helpdesk" not in str(message) and ids.UNDO not in str(message)
    assert message["text"] == "Ticket #1042 labelled card_arrival by ann.lee (helpdesk)"

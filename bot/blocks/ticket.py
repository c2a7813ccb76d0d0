"""The ticket message in the review channel: review, blind audit, and decided states."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.blocks import ids
from bot.blocks.text import (
    BUTTON_TEXT_LIMIT,
    OPTION_TEXT_LIMIT,
    SECTION_LIMIT,
    TEXT_REMOVED,
    chunks,
    escape,
    person,
    quote,
    shorten,
    slack_time,
)
from bot.services.cards import Decided, TicketCard
from bot.services.second_opinions import Stage
from bot.words import duration, percent
from storage.models import ReviewKind

STATIC_SELECT_LIMIT = 100  # Slack's cap on options; more labels need a searchable external select
AUDIT_NOTE = (
    "Audits measure how often automatic labels are right. The model's answer is hidden on purpose."
)
NOVEL_NOTE = (
    "Sent to people: unlike the tickets the model learned from, so its guess is not shown. "
    "*None of these…* if no label fits."
)
SUBJECT_CHARS = 200  # a subject longer than a line is cut; the text below says the rest
SECOND_OPINION_NOTE = (
    "Blind like an audit: the earlier answers and the model's guess are hidden until it "
    "settles; the ticket is routed then."
)
AUDIT_OPINION_NOTE = (
    "Blind like an audit: the earlier answers and the model's label are hidden until it "
    "settles; the automatic label stands until then."
)
OPINION_ASKS = {
    Stage.SECOND: "One answer so far. Which label fits?",
    Stage.THIRD: "Two answers disagree: a third person decides. Which label fits?",
    Stage.ADMIN: "*Needs an admin:* three answers disagree. Which label fits?",
}
SECOND_LOOK_ASKS = (
    "*A second look:* retraining doubts the label one person gave this ticket. Which label fits?"
)
NONE_OF_THESE = "None of these…"
NO_LABEL_WORDS = "none of these"


def build_ticket_message(card: TicketCard, *, now: datetime) -> dict[str, Any]:
    """The message for the card's current state (posted first, then updated in place)."""
    if card.opinion is not None:  # a settled label asked again is answerable too
        return _second_opinion(card, card.opinion)
    if card.decided is not None:
        return _decided(card, card.decided, now)
    if card.kind == ReviewKind.AUDIT:
        return _audit(card)
    return _review(card)


def _header(card: TicketCard, prefix: str) -> dict[str, Any]:
    when = slack_time(card.created_at, "{ago}")
    line = f"{prefix}Ticket #{card.ticket_id} · {escape(card.source)} · {when}"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}


def _quote(card: TicketCard) -> dict[str, Any]:
    """The subject in bold (what the customer called it), then the text quoted."""
    if card.erased:
        return {"type": "section", "text": {"type": "mrkdwn", "text": TEXT_REMOVED}}
    text = quote(card.text, cut_note="… full text in thread")
    if card.subject and card.subject.strip():
        subject = " ".join(card.subject.split())  # one line, whatever newlines it held
        text = shorten(f"*{escape(shorten(subject, SUBJECT_CHARS))}*\n{text}", SECTION_LIMIT)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _label_picker(card: TicketCard, placeholder: str) -> dict[str, Any]:
    if len(card.labels) > STATIC_SELECT_LIMIT:
        return {
            "type": "external_select",
            "action_id": ids.PICK_LABEL,
            "placeholder": {"type": "plain_text", "text": placeholder},
            "min_query_length": 0,
        }
    return {
        "type": "static_select",
        "action_id": ids.PICK_LABEL,
        "placeholder": {"type": "plain_text", "text": placeholder},
        "options": [label_option(name) for name in card.labels],
    }


def label_option(name: str) -> dict[str, Any]:
    """One select option; the value is the label name (labels are at most 100 characters)."""
    return {
        "text": {"type": "plain_text", "text": shorten(name, OPTION_TEXT_LIMIT)},
        "value": name,
    }


def _skip_button() -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": ids.SKIP,
        "text": {"type": "plain_text", "text": "Skip"},
        "value": "skip",
    }


def _none_button() -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": ids.NONE_OF_THESE,
        "text": {"type": "plain_text", "text": NONE_OF_THESE},
        "value": "none",
    }


def _answer_row(card: TicketCard, placeholder: str) -> dict[str, Any]:
    """Every label, "none of these", and skip: the answers any asked ticket offers."""
    return {
        "type": "actions",
        "block_id": ids.ticket_block_id(card.ticket_id, "pick"),
        "elements": [_label_picker(card, placeholder), _none_button(), _skip_button()],
    }


def _said(label: str | None) -> str:
    return NO_LABEL_WORDS if label is None else escape(label)


def _people_note(card: TicketCard) -> str:
    notes = []
    if card.votes:
        votes = ", ".join(f"{person(user)} → {_said(label)}" for user, label in card.votes)
        if card.decided is not None:  # a second opinion settled it: every answer shown
            notes.append(f"answers: {votes}")
        else:
            notes.append(f"{len(card.votes)} of {card.quorum} matching answers needed · {votes}")
    if card.skipped_by:
        notes.append("skipped by " + ", ".join(person(user) for user in card.skipped_by))
    return " · ".join(notes)


def _suggestions(card: TicketCard, shown: Sequence[tuple[str, float | None]]) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": ids.ticket_block_id(card.ticket_id, "suggest"),
        "elements": [
            _suggestion_button(index, label, probability)
            for index, (label, probability) in enumerate(shown[:5])
        ],
    }


def _review(card: TicketCard) -> dict[str, Any]:
    if card.novel:
        return _novel(card)
    blocks: list[dict[str, Any]] = [_header(card, "📥  "), _quote(card)]
    if card.suggestions:
        version = f"Model v{card.model_version}" if card.model_version else "Model"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{version} suggests:*"},
            }
        )
        blocks.append(_suggestions(card, card.suggestions))
    blocks.append(_answer_row(card, "Pick another label"))
    blocks.append(_context(_review_reason(card), _people_note(card)))
    top = f" (model suggests {card.suggestions[0][0]})" if card.suggestions else ""
    return {"text": f"Ticket #{card.ticket_id} needs a label{top}", "blocks": blocks}


def _novel(card: TicketCard) -> dict[str, Any]:
    """Unlike anything learned: no model guesses (they rest on nothing it knows), only a
    label created for its new topic since, offered first."""
    created = [(label, p) for label, p in card.suggestions if p is None]
    blocks: list[dict[str, Any]] = [
        _header(card, "🆕  "),
        _quote(card),
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Unlike anything the model has learned.* Which label fits?",
            },
        },
    ]
    if created:
        blocks.append(_suggestions(card, created))
    blocks.append(_answer_row(card, "Pick a label"))
    blocks.append(_context(NOVEL_NOTE, _people_note(card)))
    return {
        "text": f"Ticket #{card.ticket_id} is unlike anything the model has learned",
        "blocks": blocks,
    }


def _suggestion_button(index: int, label: str, probability: float | None) -> dict[str, Any]:
    suffix = " (new label)" if probability is None else f" {percent(probability)}"
    text = shorten(label, BUTTON_TEXT_LIMIT - len(suffix)) + suffix
    return {
        "type": "button",
        "action_id": f"{ids.SUGGEST}_{index}",
        "text": {"type": "plain_text", "text": text},
        "value": label,
    }


def _review_reason(card: TicketCard) -> str:
    waiting = f" · {card.waiting} waiting" if card.waiting else ""
    if not card.suggestions:
        return f"Sent to review: no model is active yet{waiting}"
    label, probability = card.suggestions[0]
    if probability is None:
        return f"Asked again: the label {escape(label)} was created for tickets like this{waiting}"
    if card.threshold is None or card.threshold > 1:
        need = f"{escape(label)} is never applied automatically yet"
        return f"Sent to review: {need}{waiting}"
    return (
        f"Sent to review: {percent(probability)} is under the {percent(card.threshold)} "
        f"needed for {escape(label)}{waiting}"
    )


def _context(*lines: str) -> dict[str, Any]:
    text = " · ".join(line for line in lines if line)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": shorten(text, 3_000)}]}


def _audit(card: TicketCard) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        _header(card, "🔎  Audit · "),
        _quote(card),
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Which label fits?*"},
        },
        _answer_row(card, "Pick a label"),
        _context(AUDIT_NOTE, _people_note(card)),
    ]
    return {"text": f"Audit: which label fits ticket #{card.ticket_id}?", "blocks": blocks}


def _second_opinion(card: TicketCard, waiting_for: Stage) -> dict[str, Any]:
    """Someone else's answer is needed: blind, naming who answered (they are not asked)."""
    answered = ", ".join(person(user) for user in card.answered_by)  # helpdesk: no mention
    skipped = (
        " · skipped by " + ", ".join(person(user) for user in card.skipped_by)
        if card.skipped_by
        else ""
    )
    who = "an admin" if waiting_for == Stage.ADMIN else "someone else"
    blocks: list[dict[str, Any]] = [
        _header(card, "👀  Second opinion · "),
        _quote(card),
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": SECOND_LOOK_ASKS
                if card.second_look and waiting_for == Stage.SECOND
                else OPINION_ASKS[waiting_for],
            },
        },
        _answer_row(card, "Pick a label"),
        _context(
            AUDIT_OPINION_NOTE if card.kind == ReviewKind.AUDIT else SECOND_OPINION_NOTE,
            f"answered by {answered}; waiting for {who}{skipped}",
        ),
    ]
    return {"text": f"Second opinion: which label fits ticket #{card.ticket_id}?", "blocks": blocks}


def _decided(card: TicketCard, decided: Decided, now: datetime) -> dict[str, Any]:
    waited = duration((decided.at - card.created_at).total_seconds())
    if decided.label is None:
        line = f"🚫  *None of these* — said by {person(decided.by)} after {waited}"
        if decided.proposed:
            line += f" · proposed label: {escape(decided.proposed)}"
    else:
        line = f"✅  *{escape(decided.label)}* — chosen by {person(decided.by)} after {waited}"
    guesses = [(label, p) for label, p in card.suggestions if p is not None]
    if guesses:
        suggested, probability = guesses[0]
        verdict = "model suggested" if card.kind == ReviewKind.REVIEW else "model had applied"
        if card.novel:
            verdict = "model guessed (unlike anything it learned)"
        line += f" · {verdict} {escape(suggested)} ({percent(probability)})"
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": line}}
    if decided.undo_until is not None and now < decided.undo_until:
        section["accessory"] = {
            "type": "button",
            "action_id": ids.UNDO,
            "text": {"type": "plain_text", "text": "Undo"},
            "value": "undo",
        }
    prefix = "🔎  Audit · " if card.kind == ReviewKind.AUDIT else "🆕  " if card.novel else "📥  "
    blocks = [
        {**section, "block_id": ids.ticket_block_id(card.ticket_id, "decided")},
        _header(card, prefix),
        _quote(card),
    ]
    note = _people_note(card)
    if note:
        blocks.append(_context(note))
    outcome = "fits no label, said" if decided.label is None else f"labelled {decided.label}"
    return {"text": f"Ticket #{card.ticket_id} {outcome} by {person(decided.by)}", "blocks": blocks}


def build_erased_reply() -> dict[str, Any]:
    """What the full-text thread reply of an erased ticket becomes."""
    return {
        "text": "Ticket text removed",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": TEXT_REMOVED}}],
    }


def build_full_text_reply(text: str) -> dict[str, Any]:
    """The whole ticket text for the thread of a message that showed only its start."""
    pieces = chunks(text, SECTION_LIMIT - 10)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in pieces[:49]]
    return {"text": "Full ticket text", "blocks": blocks}


def build_reminder(waited_seconds: float) -> dict[str, Any]:
    """The thread reply on a review still waiting for a label (never @channel)."""
    return {"text": f"Still waiting for a label after {duration(waited_seconds)}."}

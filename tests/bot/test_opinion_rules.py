"""Which first answers wait for a second: the random share and the doubt bar per answerer."""

from __future__ import annotations

from collections import Counter

from bot.services.second_opinions import (
    DOUBTFUL_DRAW,
    OpinionRules,
    SecondOpinion,
    share_for,
    why_doubt,
)
from storage.models import Ticket


def drawn_share(user: str, rules: OpinionRules, n: int = 4000) -> float:
    """The share of n tickets (the model unsure, the answer agreeing) drawn for `user`."""
    drawn = 0
    for ticket_id in range(1, n + 1):
        ticket = Ticket(id=ticket_id, text="t", suggestions=[["card", 0.55]], novel=False)
        drawn += why_doubt(ticket, user=user, label="card", rules=rules) == SecondOpinion.SAMPLE
    return drawn / n


def test_the_random_share_falls_with_the_answerers_estimated_error_below_the_slack() -> None:
    rules = OpinionRules(
        share=0.5,
        model_sure=0.7,
        accuracy={"UCARELESS": 0.9, "USOLID": 0.97, "UEXACT": 0.999},
        slack=0.05,
    )
    # error at least the slack, or no record: the full share
    assert share_for("UCARELESS", rules) == share_for("UNEW", rules) == 0.5
    assert abs(share_for("USOLID", rules) - 0.5 * 0.6) < 1e-9  # 3% of a 5% slack
    assert share_for("UEXACT", rules) == 0.5 * 0.2  # never below a fifth of the share
    assert abs(drawn_share("UNEW", rules) - 0.5) < 0.03
    assert abs(drawn_share("USOLID", rules) - 0.3) < 0.03
    assert abs(drawn_share("UEXACT", rules) - 0.1) < 0.02


def test_a_contradicting_model_doubts_only_answerers_it_is_surer_than() -> None:
    rules = OpinionRules(share=0.0, model_sure=0.7, accuracy={"USOLID": 0.97, "UNEW2": 0.8})
    ticket = Ticket(id=1, text="t", suggestions=[["card", 0.9]], novel=False)
    contradicts = SecondOpinion.CONTRADICTS
    assert why_doubt(ticket, user="USOLID", label="pin", rules=rules) is None
    assert why_doubt(ticket, user="UNEW2", label="pin", rules=rules) == contradicts
    assert why_doubt(ticket, user="UNEW", label="pin", rules=rules) == contradicts
    assert why_doubt(ticket, user="USOLID", label="card", rules=rules) is None  # agrees
    surer = Ticket(id=2, text="t", suggestions=[["card", 0.98]], novel=False)
    assert why_doubt(surer, user="USOLID", label="pin", rules=rules) == contradicts


def test_a_doubtful_reviewer_is_drawn_at_random_and_checked_unless_a_sure_model_backs_them() -> (
    None
):
    rules = OpinionRules(
        share=0.05, model_sure=0.7, doubtful=frozenset({"UCARELESS"}), accuracy={"UCARELESS": 0.8}
    )
    seen: dict[tuple[float, str], Counter[SecondOpinion | None]] = {}
    for ticket_id in range(1, 4001):
        for sure in (0.3, 0.75, 0.85):
            ticket = Ticket(id=ticket_id, text="t", suggestions=[["card", sure]], novel=False)
            for label in ("card", "pin"):
                reason = why_doubt(ticket, user="UCARELESS", label=label, rules=rules)
                seen.setdefault((sure, label), Counter())[reason] += 1
        ticket = Ticket(id=ticket_id, text="t", suggestions=[["card", 0.3]], novel=False)
        assert why_doubt(ticket, user="USOLID", label="pin", rules=rules) in (
            None,
            SecondOpinion.SAMPLE,  # anyone else: an unsure model casts no doubt
        )
    # The draw is the same whatever the answer, so it measures them without bias.
    assert len({counts[SecondOpinion.DOUBTFUL] for counts in seen.values()}) == 1
    assert abs(seen[(0.3, "card")][SecondOpinion.DOUBTFUL] / 4000 - DOUBTFUL_DRAW) < 0.03
    # Only a model surer than they are right (80%) backs an answer enough to leave it alone.
    assert set(seen[(0.85, "card")]) == {SecondOpinion.DOUBTFUL, None}
    for key in ((0.3, "card"), (0.75, "card"), (0.3, "pin"), (0.85, "pin")):
        assert set(seen[key]) == {SecondOpinion.DOUBTFUL, SecondOpinion.UNBACKED}

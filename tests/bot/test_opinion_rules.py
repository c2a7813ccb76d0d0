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


def test_a_doubtful_reviewer_is_drawn_at_random_and_checked_wherever_the_model_differs() -> None:
    rules = OpinionRules(share=0.05, model_sure=0.7, doubtful=frozenset({"UCARELESS"}))
    backed: Counter[SecondOpinion | None] = Counter()
    unbacked: Counter[SecondOpinion | None] = Counter()
    for ticket_id in range(1, 4001):
        # The model far from sure: it would doubt nobody else's answer.
        ticket = Ticket(id=ticket_id, text="t", suggestions=[["card", 0.3]], novel=False)
        backed[why_doubt(ticket, user="UCARELESS", label="card", rules=rules)] += 1
        unbacked[why_doubt(ticket, user="UCARELESS", label="pin", rules=rules)] += 1
        assert why_doubt(ticket, user="USOLID", label="pin", rules=rules) != (
            SecondOpinion.UNBACKED
        )
    # The draw is the same whatever the answer, so it measures them without bias.
    assert backed[SecondOpinion.DOUBTFUL] == unbacked[SecondOpinion.DOUBTFUL]
    assert abs(backed[SecondOpinion.DOUBTFUL] / 4000 - DOUBTFUL_DRAW) < 0.03
    assert set(backed) == {SecondOpinion.DOUBTFUL, None}
    assert set(unbacked) == {SecondOpinion.DOUBTFUL, SecondOpinion.UNBACKED}

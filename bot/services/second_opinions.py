"""When one person's answer is not enough: who else is asked, and when a ticket has settled.

Tickets answered twice are what measures reviewers without trusting the model
(`bot.services.reliability`), and a doubtful answer checked before it is routed costs one
click where a wrong route costs a customer. A share of reviewed tickets, drawn at random,
and every doubtful first answer wait for a second person; two answers that disagree go to
a third, and three that all differ to an admin. The ticket stays pending meanwhile, so its
route post and callback go out once, with the settled label. A blind audit's doubtful
answer waits the same way, while the automatic label it audits stands: a contradiction
corrects the label (and so the audit estimate of precision) only once it has settled.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.services.policy import Policy
from bot.settings import Settings
from classifier import Decision
from storage.models import Ticket

# Never call a model less sure than this confident, whatever the floor admins set.
LEAST_SURE = 0.5
# However well someone's record shows them right, at least this fraction of the random
# share of their answers is still checked.
LEAST_SHARE = 0.2
# The share of a doubtful reviewer's answers drawn at random for a second one, whatever the
# answer: what measures them without bias (159-233 of the simulated 20%-wrong reviewer's
# first answers, a standard error near 3 points). The rest are checked unless a sure model
# backs them (`why_doubt`); checking every one cost that team 798-964 second-opinion
# tickets a run, against 632-853 now (BENCHMARKS.md, issue 12, fifth follow-up).
DOUBTFUL_DRAW = 0.3


class SecondOpinion(StrEnum):
    """Why a ticket's first answer waits for someone else's (stored on the ticket)."""

    SAMPLE = "sample"  # the random share that measures how often single answers are wrong
    CONTRADICTS = "contradicts"  # the answer contradicted a confident model
    DOUBTFUL = "doubtful"  # drawn from the answers of someone estimated below the target
    UNBACKED = "unbacked"  # theirs, not drawn, and not backed by a sure model
    SCREENED = "screened"  # settled, but retraining's screening judged its label likely wrong
    RECHECKED = "rechecked"  # a screened label that a second look has settled (kept or changed)


class Stage(StrEnum):
    """Whose answer a second-opinion ticket waits for now."""

    SECOND = "second"  # one answer so far: anyone else
    THIRD = "third"  # two answers disagree: a third person
    ADMIN = "admin"  # three answers, no two alike: an admin settles it


@dataclass(frozen=True)
class OpinionRules:
    """What makes a first answer doubtful, from the settings and the reliability estimates."""

    share: float = 0.0
    # A model at least this sure, contradicted, makes an answer doubtful (above 1: never).
    model_sure: float = 2.0
    doubtful: frozenset[str] = frozenset()  # people whose estimated accuracy is below target
    # Per person, their estimated accuracy: a contradicting model must also be surer than
    # it, and it sets the random share of their answers (absent: new, no record).
    accuracy: Mapping[str, float] = field(default_factory=dict)
    # The error a label may carry before it alone could cost the target: 1 - target.
    slack: float = 0.05


def opinion_rules(*, settings: Settings, policy: Policy) -> OpinionRules:
    """The rules in force: the deployment's share, and a model confident enough to be
    applied on its own evidence (the per-ticket floor) as the one worth contradicting."""
    if not settings.second_opinion_doubts:
        return OpinionRules(share=settings.second_opinion_share)
    return OpinionRules(
        share=settings.second_opinion_share,
        model_sure=max(policy.confidence_floor, LEAST_SURE),
        doubtful=policy.doubtful,
        accuracy=policy.accuracy,
        slack=1.0 - policy.target_precision,
    )


def drawn(ticket_id: int, share: float) -> bool:
    """Whether the ticket is in the random share; fixed by its id, so a retry draws the same."""
    return share > 0 and random.Random(f"second-opinion:{ticket_id}").random() < share


def share_for(user: str, rules: OpinionRules) -> float:
    """The random share of `user`'s answers that waits for a second one.

    The share measures how often single answers are wrong. Someone whose estimated error
    (1 - estimated accuracy) is at least the target's slack (1 - target) could alone take
    precision below it, and is checked at the full share, as is anyone without a record;
    someone estimated wrong a fraction of that slack is checked at that fraction of the
    share, never below a fifth of it, so a change in how they work still shows. The
    estimate starts from the prior (80% right), so it takes a few dozen answers checked
    against others before anyone's share falls.
    """
    if rules.slack <= 0:
        return rules.share
    error = 1.0 - rules.accuracy.get(user, 0.0)
    return rules.share * min(1.0, max(LEAST_SHARE, error / rules.slack))


def model_bar(user: str, rules: OpinionRules) -> float:
    """How sure a model contradicting `user` must be to cast doubt on their answer: at least
    the floor, and surer than `user` is estimated right, so that the answer is likelier
    wrong than the model. With a reviewer right 98% of the time, a model 80% sure that
    disagrees is likelier wrong itself; asking a second person each time costs an answer
    and, with an accurate team, always confirms the first.
    """
    return max(rules.model_sure, rules.accuracy.get(user, 0.0))


def why_doubt(
    ticket: Ticket, *, user: str, label: str | None, rules: OpinionRules
) -> SecondOpinion | None:
    """The reason the first answer on `ticket` needs a second opinion, or None.

    An audit is itself the random share of automated tickets, so only doubt sends it on.
    Someone estimated below the target is checked on a random draw of their answers
    (`DOUBTFUL_DRAW`, drawn before the answer is looked at, so those tickets measure them
    without bias) and on every other answer a model surer than they are right
    (`model_bar`) does not back: their answer alone is not good enough, and a backing
    model makes an error unlikely, since it would have to be wrong in the same way.
    """
    if ticket.novel or label is None:
        # Unlike anything learned, or "none of these": the model's guess is no yardstick
        # and the answer teaches no label; only the random share is checked.
        return SecondOpinion.SAMPLE if drawn(ticket.id, rules.share) else None
    top = (ticket.suggestions or [[None, None]])[0]
    sure = top[1] is not None and float(top[1]) >= model_bar(user, rules)
    if user in rules.doubtful:
        if drawn(ticket.id, DOUBTFUL_DRAW):
            return SecondOpinion.DOUBTFUL
        return None if sure and str(top[0]) == label else SecondOpinion.UNBACKED
    if sure and str(top[0]) != label:
        return SecondOpinion.CONTRADICTS
    if ticket.decision == Decision.AUDIT:
        return None
    return SecondOpinion.SAMPLE if drawn(ticket.id, share_for(user, rules)) else None


def stage(answers: Sequence[str | None]) -> Stage:
    """Whose answer is awaited, given the distinct answers so far (None: none of these)."""
    distinct = len(set(answers))
    if distinct <= 1:
        return Stage.SECOND
    return Stage.THIRD if distinct == 2 else Stage.ADMIN

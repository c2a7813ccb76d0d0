"""The daily digest job: compute yesterday's figures and queue the message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.blocks.digest import build_digest
from bot.services.alerts_channel import post_to_alerts
from bot.services.policy import current_policy
from bot.services.stats import service_stats
from bot.settings import Settings
from classifier import Thresholds
from storage.queries.model_versions import active_version


def post_digest(*, session: Session, settings: Settings, now: datetime) -> bool:
    """Queue the digest for the alerts channel; False when there is no channel to post to."""
    if not settings.alerts_channel:
        return False
    stats = service_stats(session=session, now=now, days=1)
    policy = current_policy(session=session, settings=settings)
    version = active_version(session=session)
    thresholds = (
        None if version is None else policy.thresholds_for(Thresholds.from_dict(version.thresholds))
    )
    never: frozenset[str] = frozenset() if thresholds is None else thresholds.never_auto
    per_label = {} if thresholds is None else dict(thresholds.per_label)
    message = build_digest(
        stats,
        model_version=None if version is None else version.id,
        default_threshold=None if thresholds is None else thresholds.default,
        label_thresholds={label: v for label, v in per_label.items() if label not in never},
        never_auto=len(never),
        paused=policy.paused,
    )
    return post_to_alerts(message, session=session, settings=settings, now=now)

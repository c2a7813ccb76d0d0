"""Is a worker leading? Read from the lease and the heartbeats, for every process that asks.

The web process reports it (`/healthz`, `/readyz`, `/metrics`) and alerts ops when nobody
has led for a while; `triage worker --check` judges the worker beside it. All of them read
the database, so every process tells the same story.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.settings import Settings
from storage.queries.heartbeats import heartbeat_of, last_led_at, live_workers, workers_on
from storage.queries.leases import SCHEDULER_LEASE, holder_of


@dataclass(frozen=True)
class WorkerHealth:
    """Who leads now, since when and how fresh its heartbeat is, and who stands by."""

    leader: str | None
    leader_beat_at: datetime | None
    leading_since: datetime | None
    last_led_at: datetime | None  # when any worker last held the lease
    standby: tuple[str, ...]  # live workers not leading
    now: datetime

    @property
    def heartbeat_age(self) -> float | None:
        """Seconds since the leader's last heartbeat."""
        if self.leader_beat_at is None:
            return None
        return max(0.0, (self.now - self.leader_beat_at).total_seconds())

    def seconds_without_leader(self, watching_since: datetime) -> float | None:
        """How long no worker has led (counted from `watching_since` if none ever did)."""
        if self.leader is not None:
            return None
        start = self.last_led_at or watching_since
        return max(0.0, (self.now - start).total_seconds())

    def as_json(self, watching_since: datetime) -> dict[str, Any]:
        """What `/healthz` shows about the workers."""
        return {
            "leader": self.leader,
            "leader_heartbeat_age_seconds": _rounded(self.heartbeat_age),
            "leading_since": _iso(self.leading_since),
            "last_led_at": _iso(self.last_led_at),
            "seconds_without_leader": _rounded(self.seconds_without_leader(watching_since)),
            "standby": len(self.standby),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def lease_ttl(settings: Settings) -> timedelta:
    """How long a heartbeat stays fresh: the lease's length (workers beat every third)."""
    return timedelta(seconds=settings.worker_lease_seconds)


def worker_health(*, session: Session, settings: Settings, now: datetime) -> WorkerHealth:
    """The leader (holder of an unexpired lease), its heartbeat, and the live standbys."""
    leader = holder_of(SCHEDULER_LEASE, session=session, now=now)
    beat = None if leader is None else heartbeat_of(leader, session=session)
    live = live_workers(session=session, since=now - lease_ttl(settings))
    return WorkerHealth(
        leader=leader,
        leader_beat_at=None if beat is None else beat.beat_at,
        leading_since=None if beat is None else beat.leading_since,
        last_led_at=last_led_at(session=session),
        standby=tuple(w.holder for w in live if w.holder != leader),
        now=now,
    )


@dataclass(frozen=True)
class LocalVerdict:
    """`triage worker --check`'s answer: healthy or not, in one line."""

    ok: bool
    line: str


def check_local_worker(
    host: str, *, session: Session, settings: Settings, now: datetime
) -> LocalVerdict:
    """Judge the worker running on `host` (a container's own): alive, and leading or able to.

    Unhealthy when it has not beaten within a lease (hung, or not running), or when it is a
    standby while no worker has led for over a lease: it should have taken over by then.
    """
    ttl = lease_ttl(settings)
    mine = workers_on(host, session=session)
    if not mine:
        return LocalVerdict(False, f"no worker has run on {host}")
    newest = mine[0]
    age = (now - newest.beat_at).total_seconds()
    if age > ttl.total_seconds():
        return LocalVerdict(
            False, f"stale: the worker on {host} ({newest.holder}) last beat {age:.0f} s ago"
        )
    health = worker_health(session=session, settings=settings, now=now)
    if health.leader == newest.holder:
        return LocalVerdict(True, f"ok: {newest.holder} leads, heartbeat {age:.0f} s ago")
    if health.leader is not None:
        return LocalVerdict(True, f"ok: {newest.holder} stands by; {health.leader} leads")
    without = health.seconds_without_leader(newest.started_at) or 0.0
    if without > ttl.total_seconds():
        return LocalVerdict(
            False,
            f"could not lead: no worker has led for {without:.0f} s and {newest.holder} "
            "has not taken the lease",
        )
    return LocalVerdict(True, f"ok: {newest.holder} is taking over the free lease")

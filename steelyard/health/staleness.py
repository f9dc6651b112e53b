"""Which appliances have failed, and whether to hold back because too many went silent at once.
Pure: the health manager gathers what it knows, `judge` decides, the manager applies.

An appliance is watched while ALLOCATED (serving a load balancer; spares send no heartbeats,
the spare pool checks them). It has failed when it has been silent for longer than the
timeout, or when its heartbeats have said for longer than the timeout that HAProxy is not
running although it has a config. Silence is counted from the last heartbeat, and never from
before the appliance was watched: one that has not been heard since it was created, allocated,
or since this health manager started, gets the longer grace period (booting, a restarting
agent).

The circuit breaker: when more than `breaker_share` of the watched appliances, and at least
`breaker_min`, are silent at one check, it is likelier that the health manager lost its
network than that they all died; none is failed and the breaker trips. While it is tripped
nothing is failed automatically. An operator's release resumes failover: appliances silent
since before the release are failed then without tripping it again.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from steelyard.model.health import CircuitBreaker


@dataclass(frozen=True)
class HealthPolicy:
    timeout: timedelta = timedelta(seconds=3)
    grace_factor: float = 3.0  # never heard since watched: silent only after timeout x this
    breaker_share: float = 0.5
    breaker_min: int = 3


@dataclass(frozen=True)
class Watched:
    appliance_id: str
    name: str
    loadbalancer_id: str | None
    last_heartbeat_at: datetime | None
    watched_since: datetime  # created, allocated, or this manager started, the latest
    haproxy_down_since: datetime | None = None  # reported down (with a config) since then


@dataclass(frozen=True)
class Failure:
    appliance: Watched
    reason: str


@dataclass(frozen=True)
class Verdict:
    failed: tuple[Failure, ...]
    silent: tuple[Watched, ...]
    trip: bool  # trip the circuit breaker now (then nothing is failed)


def silent_since(w: Watched, now: datetime, policy: HealthPolicy) -> datetime | None:
    """When `w` became silent (its deadline passed), or None when it is not silent."""
    last = w.last_heartbeat_at
    if last is not None and last >= w.watched_since:
        deadline = last + policy.timeout
    else:
        deadline = w.watched_since + policy.timeout * policy.grace_factor
    return deadline if now > deadline else None


def _silence_reason(w: Watched, now: datetime, policy: HealthPolicy) -> str:
    last = w.last_heartbeat_at
    if last is not None and last >= w.watched_since:
        quiet = (now - last).total_seconds()
        return f"no heartbeat for {quiet:.1f} s (timeout {policy.timeout.total_seconds():g} s)"
    waited = (now - w.watched_since).total_seconds()
    return f"no heartbeat in the {waited:.1f} s since it was created, allocated or watched"


def judge(
    watched: list[Watched], now: datetime, policy: HealthPolicy, breaker: CircuitBreaker
) -> Verdict:
    silent = [(w, since) for w in watched if (since := silent_since(w, now, policy)) is not None]
    silent_ids = {w.appliance_id for w, _ in silent}
    dead_haproxy = [
        Failure(w, f"HAProxy not running for {(now - w.haproxy_down_since).total_seconds():.1f} s")
        for w in watched
        if w.appliance_id not in silent_ids
        and w.haproxy_down_since is not None
        and now - w.haproxy_down_since > policy.timeout
    ]
    quiet = tuple(w for w, _ in silent)
    if breaker.tripped:
        return Verdict((), quiet, trip=False)
    released = breaker.released_at
    newly_silent = [w for w, since in silent if released is None or since > released]
    if len(newly_silent) >= policy.breaker_min and len(newly_silent) > policy.breaker_share * len(
        watched
    ):
        return Verdict((), quiet, trip=True)
    failures = [Failure(w, _silence_reason(w, now, policy)) for w, _ in silent]
    return Verdict(tuple(failures + dead_haproxy), quiet, trip=False)

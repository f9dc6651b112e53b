"""Configuration drift: an appliance that reports a config other than the one the reconciler
applied to it is resynced, without anyone asking.

Each heartbeat carries the generation the agent applied and the SHA-256 of the haproxy.cfg on
disk (agent/heartbeat.py: a file edited by hand changes it). The health manager hands each
flush's heartbeats to `DriftWatch` (beside the status writer); the decision is pure:

- `observe`: a heartbeat of a running HAProxy whose hash or generation differs from what the
  database says was applied is "drifted", one that matches is "matches"; an appliance whose
  load balancer is mid-apply (a change or resync pending, or being deleted), or whose HAProxy
  is not running (the health manager's repair handles that), tells nothing ("unknown").
- `step`: drift is declared after DRIFT_HEARTBEATS consecutive drifted heartbeats (one may
  predate an apply that just finished), once: a `config.drift` event (warning) and a resync
  (the load balancer made dirty; the reconciler pushes every appliance's config again and the
  agent, seeing a file that is not the one it wrote, reloads). The first heartbeat that
  matches again records `config.repaired`; a drift still seen AGAIN_AFTER_HEARTBEATS
  heartbeats later (on a settled load balancer) is reported and resynced again.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from steelyard.db.drift import Drift, Expected, expected_configs, record_drift, record_repaired
from steelyard.model.heartbeat import ApplianceReport, Heartbeat

log = logging.getLogger(__name__)

DRIFT_HEARTBEATS = 2
AGAIN_AFTER_HEARTBEATS = 30  # a drift that outlives its resync is reported and resynced again
Observation = Literal["drifted", "matches", "unknown"]
Action = Literal["drift", "repaired"] | None


def observe(expected: Expected | None, heartbeat: Heartbeat) -> Observation:
    if expected is None or not expected.settled or expected.config_sha256 is None:
        return "unknown"
    if not heartbeat.haproxy_running or heartbeat.generation is None:
        return "unknown"
    same = (heartbeat.generation, heartbeat.config_sha256) == (
        expected.generation,
        expected.config_sha256,
    )
    return "matches" if same else "drifted"


@dataclass(frozen=True)
class DriftState:
    streak: int = 0  # consecutive drifted heartbeats
    last_seq: int = 0  # the last heartbeat counted (a heartbeat counts once)
    open: Drift | None = None  # declared, not yet repaired


def step(
    state: DriftState,
    seq: int,
    observation: Observation,
    drift: Drift,
    threshold: int = DRIFT_HEARTBEATS,
) -> tuple[DriftState, Action]:
    """The next state after one heartbeat (`drift`: what it would report), and what to do."""
    if seq <= state.last_seq or observation == "unknown":
        return state, None
    if observation == "matches":
        return DriftState(last_seq=seq), "repaired" if state.open is not None else None
    streak = state.streak + 1
    if streak >= threshold and state.open is None:
        return DriftState(streak, seq, drift), "drift"
    if state.open is not None and streak % AGAIN_AFTER_HEARTBEATS == 0:
        # Still drifted on a settled load balancer: the resync did not cure it. Again.
        return DriftState(streak, seq, drift), "drift"
    return replace(state, streak=streak, last_seq=seq), None


class DriftWatch:
    """Called by the health manager with each flush's accepted heartbeats (one thread)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        read_sessions: Callable[[], Session],
        notify: Callable[[str], None],
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._notify = notify
        self._states: dict[str, DriftState] = {}

    def __call__(self, reports: Sequence[ApplianceReport], now: datetime) -> None:
        heartbeats = {report.heartbeat.appliance: report.heartbeat for report in reports}
        if not heartbeats:
            return
        with self._read_sessions() as session:
            expected = expected_configs(session, heartbeats)
        found: list[Drift] = []
        repaired: list[Drift] = []
        for name, heartbeat in heartbeats.items():
            wanted = expected.get(name)
            if wanted is None:
                self._states.pop(name, None)  # no longer serves a load balancer
                continue
            state = self._states.get(name, DriftState())
            seen = Drift(
                appliance=name,
                loadbalancer_id=wanted.loadbalancer_id,
                expected_generation=wanted.generation,
                expected_sha256=wanted.config_sha256,
                reported_generation=heartbeat.generation,
                reported_sha256=heartbeat.config_sha256,
            )
            self._states[name], action = step(
                state, heartbeat.seq, observe(wanted, heartbeat), seen
            )
            if action == "drift":
                found.append(seen)
            elif action == "repaired" and state.open is not None:
                repaired.append(state.open)
        if not (found or repaired):
            return
        with self._sessions() as session:
            for drift in found:
                record_drift(session, drift, now)
            for drift in repaired:
                record_repaired(session, drift, now)
            session.commit()
        for drift in found:
            log.warning("configuration drift on %s: %s", drift.appliance, drift.details())
            self._notify(drift.loadbalancer_id)
        for drift in repaired:
            log.info("configuration drift on %s repaired", drift.appliance)

"""Threshold alerts, evaluated periodically from the database: a listener's active connections
above a share of its connection limit (or of the deployment's maximum when it has none), and
an enabled pool whose enabled members are all down.

Each is a two-state alarm with hysteresis: raised when the value reaches `raise_at`, cleared
only when it falls below `clear_below`, and only once that holds for `hold` evaluations in a
row (a pool whose members are not observed yet right after an apply is not an outage): one
event per crossing. The state survives a restart: it is seeded from the last alarm event of
each listener and pool.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.events import record_event
from steelyard.model import event_types as t
from steelyard.model.enums import OperatingStatus, ProvisioningStatus
from steelyard.periodic import Periodic

log = logging.getLogger(__name__)
HEALTHY = (
    OperatingStatus.ONLINE.value,
    OperatingStatus.NO_MONITOR.value,
    OperatingStatus.DRAINING.value,
)
STALE_AFTER = timedelta(seconds=60)  # counters older than this say nothing about now
ALARMS = {  # event type -> (key kind, raised?)
    t.LISTENER_CONNECTIONS_HIGH: ("listener", True),
    t.LISTENER_CONNECTIONS_NORMAL: ("listener", False),
    t.POOL_NO_HEALTHY_MEMBER: ("pool", True),
    t.POOL_HEALTHY_MEMBER_BACK: ("pool", False),
}


@dataclass(frozen=True)
class Band:
    raise_at: float
    clear_below: float


def crossing(raised: bool, value: float, band: Band) -> bool | None:
    """The alarm's new state when `value` crosses the band, None while it stays as it is."""
    if not raised and value >= band.raise_at:
        return True
    if raised and value < band.clear_below:
        return False
    return None


@dataclass(frozen=True)
class ListenerLoad:
    listener_id: str
    loadbalancer_id: str
    protocol: str
    protocol_port: int
    active: int
    limit: int  # the listener's own, or the deployment's maximum
    own_limit: bool


@dataclass(frozen=True)
class PoolHealth:
    pool_id: str
    loadbalancer_id: str
    name: str
    enabled_members: int
    healthy_members: int


def listener_loads(session: Session, default_limit: int, now: datetime) -> list[ListenerLoad]:
    L, S = m.Listener, m.ListenerStats
    rows = session.execute(
        select(L.id, L.loadbalancer_id, L.protocol, L.protocol_port, L.connection_limit,
               S.active_connections)
        .join(S, S.listener_id == L.id)
        .where(L.admin_state_up.is_(True), S.updated_at >= now - STALE_AFTER)
    )  # fmt: skip
    return [
        ListenerLoad(ident, lb_id, protocol, port, active,
                     limit if limit > 0 else default_limit, limit > 0)
        for ident, lb_id, protocol, port, limit, active in rows
    ]  # fmt: skip


def pool_health(session: Session) -> list[PoolHealth]:
    P, M = m.Pool, m.Member
    healthy = func.sum(case((M.operating_status.in_(HEALTHY), 1), else_=0))
    rows = session.execute(
        select(P.id, P.loadbalancer_id, P.name, func.count(M.id), healthy)
        .join(M, M.pool_id == P.id)
        .join(m.LoadBalancer, m.LoadBalancer.id == P.loadbalancer_id)
        .where(
            P.admin_state_up.is_(True),
            M.admin_state_up.is_(True),
            P.provisioning_status == ProvisioningStatus.ACTIVE.value,
            m.LoadBalancer.applied_generation > 0,
            m.LoadBalancer.deleting.is_(False),
        )
        .group_by(P.id, P.loadbalancer_id, P.name)
    )
    return [
        PoolHealth(ident, lb_id, name or "", int(enabled), int(ok or 0))
        for ident, lb_id, name, enabled, ok in rows
    ]


class ThresholdWatcher:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Callable[[], datetime],
        default_limit: int,
        connections: Band = Band(0.8, 0.6),
        interval_s: float = 2.0,
        hold: int = 2,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._default_limit = max(default_limit, 1)
        self._connections = connections
        self._hold = hold
        self._raised: dict[tuple[str, str], bool] | None = None  # (kind, id) -> raised
        self._pending: dict[tuple[str, str], int] = {}  # evaluations a crossing has held
        self._task = Periodic("threshold alerts", interval_s, self.evaluate, log)

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def _seed(self, session: Session) -> dict[tuple[str, str], bool]:
        E = m.Event
        rows = session.execute(
            select(E.type, E.listener_id, E.details)
            .where(E.type.in_(list(ALARMS)))
            .order_by(E.created_at, E.id)
        )
        raised: dict[tuple[str, str], bool] = {}
        for event_type, listener_id, details in rows:
            kind, state = ALARMS[event_type]
            ident = listener_id if kind == "listener" else (details or {}).get("pool_id")
            if ident:
                raised[(kind, ident)] = state
        return raised

    def evaluate(self) -> None:
        """One pass: an event for every alarm that changed state."""
        now = self._clock()
        with self._sessions() as session:
            if self._raised is None:
                self._raised = self._seed(session)
            loads = listener_loads(session, self._default_limit, now)
            pools = pool_health(session)
            changed = self._listeners(session, loads, now) + self._pools(session, pools, now)
            if changed:
                session.commit()

    def _flip(self, kind: str, ident: str, value: float, band: Band) -> bool | None:
        assert self._raised is not None
        key = (kind, ident)
        state = crossing(self._raised.get(key, False), value, band)
        if state is None:
            self._pending.pop(key, None)
            return None
        held = self._pending[key] = self._pending.get(key, 0) + 1
        if held < self._hold:
            return None
        del self._pending[key]
        self._raised[key] = state
        return state

    def _listeners(self, session: Session, loads: Iterable[ListenerLoad], now: datetime) -> int:
        changed = 0
        for load in loads:
            share = load.active / load.limit
            state = self._flip("listener", load.listener_id, share, self._connections)
            if state is None:
                continue
            changed += 1
            of = "its connection limit" if load.own_limit else "the connection maximum"
            band = self._connections
            record_event(
                session,
                type=t.LISTENER_CONNECTIONS_HIGH if state else t.LISTENER_CONNECTIONS_NORMAL,
                severity="warning" if state else "info",
                message=f"listener {load.protocol}:{load.protocol_port} has {load.active} "
                f"active connections, {share:.0%} of {of} ({load.limit}); alert "
                + (f"at {band.raise_at:.0%}" if state else f"cleared below {band.clear_below:.0%}"),
                loadbalancer_id=load.loadbalancer_id,
                listener_id=load.listener_id,
                details={
                    "active_connections": load.active,
                    "limit": load.limit,
                    "share": round(share, 4),
                    "raise_at": band.raise_at,
                    "clear_below": band.clear_below,
                },
                now=now,
            )
        return changed

    def _pools(self, session: Session, pools: Iterable[PoolHealth], now: datetime) -> int:
        changed = 0
        # Down when no enabled member is healthy: 1 = down, raised at 1, cleared below 1.
        band = Band(1.0, 1.0)
        for pool in pools:
            down = 1.0 if pool.healthy_members == 0 else 0.0
            state = self._flip("pool", pool.pool_id, down, band)
            if state is None:
                continue
            changed += 1
            name = pool.name or pool.pool_id
            record_event(
                session,
                type=t.POOL_NO_HEALTHY_MEMBER if state else t.POOL_HEALTHY_MEMBER_BACK,
                severity="critical" if state else "info",
                message=f"pool {name}: none of its {pool.enabled_members} enabled members is "
                "healthy"
                if state
                else f"pool {name}: {pool.healthy_members} of {pool.enabled_members} enabled "
                "members healthy again",
                loadbalancer_id=pool.loadbalancer_id,
                details={
                    "pool_id": pool.pool_id,
                    "enabled_members": pool.enabled_members,
                    "healthy_members": pool.healthy_members,
                },
                now=now,
            )
        return changed

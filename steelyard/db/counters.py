"""Traffic counters from the heartbeats into the database: per listener (FRONTEND rows), pool
(BACKEND rows), member (server rows) and per appliance and listener (Octavia's amphora stats).

The caller (controller.observer.HeartbeatStatuses) hands gains, already corrected for HAProxy
reloads; here they are added to the cumulative rows, read in a few queries per call. Gains of
objects deleted meanwhile, or of proxies that are no object of ours, are dropped.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from steelyard.db import models as m

ID_BATCH = 500  # keys per query (SQLite limits the bound parameters of a statement)


@dataclass(frozen=True, slots=True)
class Traffic:
    """Counter gains of one frontend, backend or server; active_connections is a current value.
    The names are the columns of models.TrafficCounters."""

    bytes_in: int = 0
    bytes_out: int = 0
    active_connections: int = 0
    total_connections: int = 0
    request_errors: int = 0
    connection_errors: int = 0
    response_errors: int = 0
    requests: int = 0
    hrsp_1xx: int = 0
    hrsp_2xx: int = 0
    hrsp_3xx: int = 0
    hrsp_4xx: int = 0
    hrsp_5xx: int = 0
    hrsp_other: int = 0


TRAFFIC_FIELDS = tuple(f.name for f in fields(Traffic))
CUMULATIVE = tuple(name for name in TRAFFIC_FIELDS if name != "active_connections")


def plus(a: Traffic, b: Traffic) -> Traffic:
    """Gains added up; active_connections is b's (the later report)."""
    summed: dict[str, int] = {name: getattr(a, name) + getattr(b, name) for name in CUMULATIVE}
    return Traffic(active_connections=b.active_connections, **summed)


@dataclass
class LoadBalancerGains:
    """What one load balancer's appliances gained since the last write."""

    listeners: dict[str, Traffic] = field(default_factory=dict)
    pools: dict[str, Traffic] = field(default_factory=dict)
    members: dict[tuple[str, str], Traffic] = field(default_factory=dict)  # (pool, member)
    appliances: dict[tuple[str, str], Traffic] = field(default_factory=dict)  # (name, listener)

    def __bool__(self) -> bool:
        return bool(self.listeners or self.pools or self.members or self.appliances)


@dataclass(frozen=True)
class _Counted:
    """A counter table: the columns its gains are keyed on (the first is the id of the owner
    row, which must exist for a new counter row) and the owner's table."""

    table: type[m.TrafficCounters]
    keys: tuple[str, ...]
    owner: type[m.Listener | m.Pool | m.Member | m.Appliance]


_LISTENERS = _Counted(m.ListenerStats, ("listener_id",), m.Listener)
_POOLS = _Counted(m.PoolStats, ("pool_id",), m.Pool)
_MEMBERS = _Counted(m.MemberStats, ("member_id", "pool_id"), m.Member)
_APPLIANCES = _Counted(m.ApplianceListenerStats, ("appliance_id", "listener_id"), m.Appliance)
Key = tuple[str, ...]


def add_traffic(session: Session, gained: dict[str, LoadBalancerGains], now: datetime) -> None:
    """Add `gained` (per load balancer) to the counter rows, creating those missing."""
    items = gained.items()
    _add(
        session, _LISTENERS, {(k,): (lb, t) for lb, g in items for k, t in g.listeners.items()}, now
    )
    _add(session, _POOLS, {(k,): (lb, t) for lb, g in items for k, t in g.pools.items()}, now)
    members: dict[Key, tuple[str, Traffic]] = {
        (mb, pool): (lb, t) for lb, g in items for (pool, mb), t in g.members.items()
    }
    _add(session, _MEMBERS, members, now)
    ids = _appliance_ids(session, {name for g in gained.values() for name, _ in g.appliances})
    appliances: dict[Key, tuple[str, Traffic]] = {
        (ids[name], listener): (lb, t)
        for lb, g in items
        for (name, listener), t in g.appliances.items()
        if name in ids
    }
    _add(session, _APPLIANCES, appliances, now)


def _add(
    session: Session, counted: _Counted, gains: dict[Key, tuple[str, Traffic]], now: datetime
) -> None:
    if not gains:
        return
    table, keys = counted.table, counted.keys
    first: Any = getattr(table, keys[0])
    rows: dict[Key, Any] = {}
    for batch in _batches(sorted({key[0] for key in gains})):
        for found in session.scalars(select(table).where(first.in_(batch))):
            rows[tuple(getattr(found, name) for name in keys)] = found
    missing = [key for key in gains if key not in rows]
    alive = _existing(session, counted.owner, {key[0] for key in missing})
    for key in missing:
        if key[0] in alive:
            values: dict[str, object] = dict(zip(keys, key, strict=True))
            values.update(dict.fromkeys(TRAFFIC_FIELDS, 0), loadbalancer_id=gains[key][0])
            values["updated_at"] = now
            rows[key] = table(**values)
            session.add(rows[key])
    for key, (_, traffic) in gains.items():
        row = rows.get(key)
        if row is None:
            continue
        for name in CUMULATIVE:
            setattr(row, name, getattr(row, name) + getattr(traffic, name))
        row.active_connections = traffic.active_connections
        row.updated_at = now


def _existing(
    session: Session, owner: type[m.Listener | m.Pool | m.Member | m.Appliance], ids: set[str]
) -> set[str]:
    found: set[str] = set()
    for batch in _batches(sorted(ids)):
        found.update(session.scalars(select(owner.id).where(owner.id.in_(batch))))
    return found


def _appliance_ids(session: Session, names: set[str]) -> dict[str, str]:
    a = m.Appliance
    found: dict[str, str] = {}
    for batch in _batches(sorted(names)):
        rows = session.execute(select(a.name, a.id).where(a.name.in_(batch)))
        found.update((name, ident) for name, ident in rows)
    return found


def _batches(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), ID_BATCH):
        yield items[start : start + ID_BATCH]


def counted_appliances(session: Session, names: set[str]) -> set[str]:
    """The appliances among `names` (by name) that have counter rows already."""
    a, per_appliance = m.Appliance, m.ApplianceListenerStats
    found: set[str] = set()
    for batch in _batches(sorted(names)):
        query = (
            select(a.name)
            .join(per_appliance, per_appliance.appliance_id == a.id)
            .where(a.name.in_(batch))
            .distinct()
        )
        found.update(session.scalars(query))
    return found


def remove_counters(
    session: Session,
    listeners: Collection[str] = (),
    pools: Collection[str] = (),
    members: Collection[str] = (),
) -> None:
    """The counter rows of objects being removed (listener_stats: the caller's, as before)."""
    if listeners:
        per_appliance = m.ApplianceListenerStats
        session.execute(delete(per_appliance).where(per_appliance.listener_id.in_(listeners)))
    if pools:
        session.execute(delete(m.PoolStats).where(m.PoolStats.pool_id.in_(pools)))
    if members:
        session.execute(delete(m.MemberStats).where(m.MemberStats.member_id.in_(members)))


def remove_loadbalancer_counters(session: Session, lb_id: str) -> None:
    for table in (m.PoolStats, m.MemberStats, m.ApplianceListenerStats):
        session.execute(delete(table).where(table.loadbalancer_id == lb_id))

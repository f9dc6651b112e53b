"""Rows to response bodies. Relations are read in one query per kind for a whole page."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from steelyard.db import models as m
from steelyard.db.access import COMMON_FIELDS
from steelyard.db.l7 import (
    full_policies_by_listener,
    policy_ids_by_listener,
    redirecting_listeners,
)
from steelyard.db.protection import effective_by_listener, listener_protection
from steelyard.model.fields import ids
from steelyard.model.healthmonitor import HealthMonitorFull, HealthMonitorOut
from steelyard.model.listener import ListenerFull, ListenerOut
from steelyard.model.loadbalancer import LoadBalancerFull, LoadBalancerOut
from steelyard.model.member import MemberOut
from steelyard.model.pool import PoolFull, PoolOut, SessionPersistenceOut
from steelyard.model.tls import ListenerTlsOut, PoolTlsOut


def _columns(row: m.Base, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _children(
    session: Session,
    parent: InstrumentedAttribute[Any],
    child_id: InstrumentedAttribute[str],
    created: InstrumentedAttribute[Any],
    parents: Sequence[str],
    *where: ColumnElement[bool],
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if parents:
        query = select(parent, child_id).where(parent.in_(parents), *where)
        for parent_id, ident in session.execute(query.order_by(created, child_id)):
            found[parent_id].append(ident)
    return found


LB_FIELDS = (
    *COMMON_FIELDS,
    "vip_address",
    "vip_port_id",
    "vip_subnet_id",
    "vip_network_id",
    "provider",
    "flavor_id",
    "availability_zone",
)
POOL_FIELDS = (*COMMON_FIELDS, "protocol", "lb_algorithm", *PoolTlsOut.model_fields)


def _lb_fields(lb: m.LoadBalancer) -> dict[str, Any]:
    return _columns(lb, LB_FIELDS)


def loadbalancers(session: Session, rows: Sequence[m.LoadBalancer]) -> list[LoadBalancerOut]:
    keys = [row.id for row in rows]
    L, P = m.Listener, m.Pool
    listeners = _children(session, L.loadbalancer_id, L.id, L.created_at, keys)
    pools = _children(session, P.loadbalancer_id, P.id, P.created_at, keys)
    return [
        LoadBalancerOut(**_lb_fields(lb), listeners=ids(listeners[lb.id]), pools=ids(pools[lb.id]))
        for lb in rows
    ]


LISTENER_FIELDS = (
    *COMMON_FIELDS,
    "protocol",
    "protocol_port",
    "connection_limit",
    "default_pool_id",
    "insert_headers",
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
    *ListenerTlsOut.model_fields,
)


def _listener_fields(session: Session, rows: Sequence[m.Listener]) -> list[dict[str, Any]]:
    effective = effective_by_listener(session, rows)
    return [
        {
            **_columns(row, LISTENER_FIELDS),
            "allowed_cidrs": row.allowed_cidrs or None,  # Octavia shows none as null
            "protection": listener_protection(row),
            "effective_protection": effective[row.id],
        }
        for row in rows
    ]


def listeners(session: Session, rows: Sequence[m.Listener]) -> list[ListenerOut]:
    policies = policy_ids_by_listener(session, [row.id for row in rows])
    return [
        ListenerOut(
            **fields, loadbalancers=ids([row.loadbalancer_id]), l7policies=ids(policies[row.id])
        )
        for row, fields in zip(rows, _listener_fields(session, rows), strict=True)
    ]


MEMBER_FIELDS = (
    *(name for name in COMMON_FIELDS if name != "description"),
    "address",
    "protocol_port",
    "weight",
    "backup",
    "subnet_id",
    "monitor_address",
    "monitor_port",
)


def members(_: Session, rows: Sequence[m.Member]) -> list[MemberOut]:
    return [MemberOut(**_columns(row, MEMBER_FIELDS)) for row in rows]


HM_FIELDS = (
    *(name for name in COMMON_FIELDS if name != "description"),
    "type",
    "delay",
    "timeout",
    "max_retries",
    "max_retries_down",
    "http_method",
    "url_path",
    "expected_codes",
    "http_version",
    "domain_name",
)


def healthmonitors(_: Session, rows: Sequence[m.HealthMonitor]) -> list[HealthMonitorOut]:
    return [HealthMonitorOut(**_columns(row, HM_FIELDS), pools=ids([row.pool_id])) for row in rows]


def _pool_fields(row: m.Pool, pool_listeners: list[str]) -> dict[str, Any]:
    fields = _columns(row, POOL_FIELDS)
    persistence = row.session_persistence
    fields["session_persistence"] = SessionPersistenceOut(**persistence) if persistence else None
    fields["listeners"] = ids(pool_listeners)
    return fields


def _pool_listeners(session: Session, keys: list[str]) -> dict[str, list[str]]:
    """Listeners that use a pool as default pool or through an L7 policy (as in Octavia)."""
    L = m.Listener
    found = _children(session, L.default_pool_id, L.id, L.created_at, keys)
    for pool_id, listener_ids in redirecting_listeners(session, keys).items():
        found[pool_id] += [ident for ident in listener_ids if ident not in found[pool_id]]
    return found


def pools(session: Session, rows: Sequence[m.Pool]) -> list[PoolOut]:
    keys = [row.id for row in rows]
    Mb, Hm = m.Member, m.HealthMonitor
    pool_members = _children(session, Mb.pool_id, Mb.id, Mb.created_at, keys)
    monitors = _children(session, Hm.pool_id, Hm.id, Hm.created_at, keys)
    pool_listeners = _pool_listeners(session, keys)
    return [
        PoolOut(
            **_pool_fields(row, pool_listeners[row.id]),
            loadbalancers=ids([row.loadbalancer_id]),
            members=ids(pool_members[row.id]),
            healthmonitor_id=next(iter(monitors[row.id]), None),
        )
        for row in rows
    ]


def _by_created(rows: Sequence[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: (row.created_at, row.id))


def loadbalancer_full(session: Session, lb: m.LoadBalancer) -> LoadBalancerFull:
    """The fully populated create response: every child expanded."""
    lb_listeners = session.scalars(select(m.Listener).where(m.Listener.loadbalancer_id == lb.id))
    lb_pools = _by_created(
        session.scalars(select(m.Pool).where(m.Pool.loadbalancer_id == lb.id)).all()
    )
    keys = [pool.id for pool in lb_pools]
    pool_members: dict[str, list[m.Member]] = defaultdict(list)
    for member in _by_created(
        session.scalars(select(m.Member).where(m.Member.pool_id.in_(keys))).all()
    ):
        pool_members[member.pool_id].append(member)
    monitors = {
        hm.pool_id: hm
        for hm in session.scalars(select(m.HealthMonitor).where(m.HealthMonitor.pool_id.in_(keys)))
    }
    pool_listeners = _pool_listeners(session, keys)
    full_pools = []
    for pool in lb_pools:
        monitor = monitors.get(pool.id)
        full_pools.append(
            PoolFull(
                **_pool_fields(pool, pool_listeners[pool.id]),
                members=members(session, pool_members[pool.id]),
                healthmonitor=HealthMonitorFull(**_columns(monitor, HM_FIELDS))
                if monitor
                else None,
            )
        )
    full_listeners = _by_created(list(lb_listeners))
    policies = full_policies_by_listener(session, [listener.id for listener in full_listeners])
    return LoadBalancerFull(
        **_lb_fields(lb),
        listeners=[
            ListenerFull(**fields, l7policies=policies[listener.id])
            for listener, fields in zip(
                full_listeners, _listener_fields(session, full_listeners), strict=True
            )
        ],
        pools=full_pools,
    )

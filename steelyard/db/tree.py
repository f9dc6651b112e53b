"""New children of a load balancer: listeners, pools, members and health monitors, alone or as
a tree (fully populated create). The caller has locked and bumped the load balancer; every row
starts PENDING_CREATE. A failure anywhere raises and the caller's transaction rolls back, so a
rejected tree leaves nothing behind.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import PENDING_DELETE, new_row
from steelyard.db.counters import remove_counters
from steelyard.db.l7 import add_policy, check_redirect_pool, remove_policies
from steelyard.db.networks import visible_subnet
from steelyard.db.protection import stored
from steelyard.db.secrets import listener_tls_columns, pool_tls_columns
from steelyard.model.enums import LISTENER_POOL_PROTOCOLS, ListenerProtocol, OperatingStatus
from steelyard.model.faults import BadRequest, Conflict, NotFound, ValidationFailure
from steelyard.model.fields import reason
from steelyard.model.healthmonitor import HTTP_DEFAULTS, HTTP_TYPES, HealthMonitorSingleCreate
from steelyard.model.listener import ListenerSingleCreate, check_cidrs_match_vip
from steelyard.model.member import MemberSingleCreate
from steelyard.model.pool import PoolSingleCreate

OFFLINE = OperatingStatus.OFFLINE.value
NO_MONITOR = OperatingStatus.NO_MONITOR.value


def _purge(session: Session, row: m.Provisioned | None, what: str) -> None:
    """A live row conflicts; a PENDING_DELETE one is dropped now so its successor can take
    its place (the data plane is rendered from the rows that remain)."""
    if row is None:
        return
    if row.provisioning_status != PENDING_DELETE:
        raise Conflict(what)
    if isinstance(row, m.Listener):
        session.execute(delete(m.ListenerStats).where(m.ListenerStats.listener_id == row.id))
        remove_counters(session, listeners=[row.id])
        remove_policies(session, row.id)
    session.delete(row)
    session.flush()


def check_protocols(listener: ListenerProtocol | str, pool: str) -> None:
    """Octavia's listener/pool protocol pairs (model/enums.py LISTENER_POOL_PROTOCOLS)."""
    allowed = LISTENER_POOL_PROTOCOLS.get(ListenerProtocol(str(listener)), frozenset())
    if str(pool) not in allowed:
        raise BadRequest(
            f"The pool protocol '{pool}' is invalid while the listener protocol is '{listener}'."
        )


def monitored(session: Session, pool_id: str) -> bool:
    query = select(m.HealthMonitor.id).where(
        m.HealthMonitor.pool_id == pool_id, m.HealthMonitor.provisioning_status != PENDING_DELETE
    )
    return session.scalar(query) is not None


def add_member(
    session: Session, pool: m.Pool, body: MemberSingleCreate, now: datetime, has_monitor: bool
) -> m.Member:
    if body.subnet_id is not None:
        try:
            visible_subnet(session, body.subnet_id, pool.project_id)
        except NotFound as exc:
            raise BadRequest(exc.faultstring) from None
    existing = session.scalar(
        select(m.Member).where(
            m.Member.pool_id == pool.id,
            m.Member.address == body.address,
            m.Member.protocol_port == body.protocol_port,
        )
    )
    _purge(
        session,
        existing,
        f"Another member on this pool is already using ip {body.address} on protocol_port "
        f"{body.protocol_port}",
    )
    row = m.Member(
        **new_row(pool, now, body),
        pool_id=pool.id,
        address=body.address,
        protocol_port=body.protocol_port,
        weight=body.weight,
        backup=body.backup,
        subnet_id=body.subnet_id,
        monitor_address=body.monitor_address,
        monitor_port=body.monitor_port,
    )
    row.operating_status = OFFLINE if has_monitor else NO_MONITOR
    session.add(row)
    return row


def healthmonitor_fields(body: HealthMonitorSingleCreate) -> dict[str, Any]:
    fields = body.model_dump(
        include={"type", "delay", "timeout", "max_retries", "max_retries_down"}, mode="json"
    )
    for name in ("http_method", "url_path", "expected_codes", "http_version", "domain_name"):
        value = getattr(body, name)
        if value is None and body.type in HTTP_TYPES:
            value = HTTP_DEFAULTS.get(name)
        fields[name] = str(value) if name == "http_method" and value is not None else value
    return fields


def add_healthmonitor(
    session: Session, pool: m.Pool, body: HealthMonitorSingleCreate, now: datetime
) -> m.HealthMonitor:
    existing = session.scalar(select(m.HealthMonitor).where(m.HealthMonitor.pool_id == pool.id))
    _purge(session, existing, "This pool already has a health monitor")
    row = m.HealthMonitor(**new_row(pool, now, body), pool_id=pool.id, **healthmonitor_fields(body))
    session.add(row)
    return row


def add_pool(session: Session, lb: m.LoadBalancer, body: PoolSingleCreate, now: datetime) -> m.Pool:
    """A pool with its members and health monitor; `body` must define protocol and algorithm."""
    if body.protocol is None or body.lb_algorithm is None:
        raise ValidationFailure("A pool needs a protocol and an lb_algorithm.")
    endpoints = [(member.address, member.protocol_port) for member in body.members]
    for endpoint in endpoints:
        if endpoints.count(endpoint) > 1:
            raise Conflict(
                f"Another member on this pool is already using ip {endpoint[0]} on "
                f"protocol_port {endpoint[1]}"
            )
    pool = m.Pool(
        **new_row(lb, now, body),
        loadbalancer_id=lb.id,
        protocol=body.protocol.value,
        lb_algorithm=body.lb_algorithm.value,
        session_persistence=body.session_persistence.model_dump(mode="json")
        if body.session_persistence
        else None,
        **pool_tls_columns(session, lb.project_id, body.protocol, body.pool_tls()),
    )
    session.add(pool)
    session.flush()
    if body.healthmonitor is not None:
        add_healthmonitor(session, pool, body.healthmonitor, now)
    for member in body.members:
        add_member(session, pool, member, now, body.healthmonitor is not None)
    return pool


def usable_pool(
    session: Session, lb_id: str, pool_id: str, protocol: ListenerProtocol | str
) -> m.Pool:
    """A pool that may become a listener's default pool: same load balancer, same protocol."""
    pool = session.get(m.Pool, pool_id)
    if pool is None or pool.loadbalancer_id != lb_id:
        raise BadRequest(f"Pool {pool_id} not found.")
    if pool.provisioning_status == PENDING_DELETE:
        raise BadRequest(f"Pool {pool_id} is being deleted.")
    check_protocols(protocol, pool.protocol)
    return pool


def checked_allowed_cidrs(lb: m.LoadBalancer, cidrs: list[str] | None) -> list[str]:
    """A listener's allowed_cidrs as stored; each must be of the VIP's IP version."""
    try:
        check_cidrs_match_vip(cidrs or [], lb.vip_address)
    except ValueError as exc:
        raise ValidationFailure(reason(exc)) from None
    return list(cidrs or [])


def add_listener(
    session: Session,
    lb: m.LoadBalancer,
    body: ListenerSingleCreate,
    now: datetime,
    default_pool_id: str | None,
) -> m.Listener:
    existing = session.scalar(
        select(m.Listener).where(
            m.Listener.loadbalancer_id == lb.id, m.Listener.protocol_port == body.protocol_port
        )
    )
    _purge(
        session,
        existing,
        "Another Listener on this Load Balancer is already using protocol_port "
        f"{body.protocol_port}",
    )
    row = m.Listener(
        **new_row(lb, now, body),
        loadbalancer_id=lb.id,
        protocol=body.protocol.value,
        protocol_port=body.protocol_port,
        connection_limit=body.connection_limit,
        default_pool_id=default_pool_id,
        timeout_client_data=body.timeout_client_data,
        timeout_member_connect=body.timeout_member_connect,
        timeout_member_data=body.timeout_member_data,
        timeout_tcp_inspect=body.timeout_tcp_inspect,
        insert_headers=dict(body.insert_headers),
        allowed_cidrs=checked_allowed_cidrs(lb, body.allowed_cidrs),
        protection=stored(body.protection),
        **listener_tls_columns(session, lb.project_id, body.protocol, body.listener_tls()),
    )
    session.add(row)
    session.flush()
    return row


def _inline_pools(listeners: list[ListenerSingleCreate]) -> list[PoolSingleCreate]:
    """The pools given inside listeners: default pools and L7 policies' redirect pools."""
    inline = [listener.default_pool for listener in listeners if listener.default_pool]
    for listener in listeners:
        inline += [policy.redirect_pool for policy in listener.l7policies if policy.redirect_pool]
    return inline


def _definitions(
    listeners: list[ListenerSingleCreate], pools: list[PoolSingleCreate]
) -> dict[str, PoolSingleCreate]:
    """Named pool definitions of a fully populated create, checked before anything is written."""
    named: dict[str, PoolSingleCreate] = {}
    for pool in [*pools, *_inline_pools(listeners)]:
        if pool.is_reference:
            if pool.definition_fields() or not pool.name:
                raise ValidationFailure(
                    "A pool referenced by name carries nothing but its name; define it once "
                    "with a protocol and an lb_algorithm."
                )
            continue
        if pool.protocol is None or pool.lb_algorithm is None:
            raise ValidationFailure("A pool needs a protocol and an lb_algorithm.")
        if any(pool is listed for listed in pools) and not pool.name:
            raise ValidationFailure(
                "Pools must be named when creating a fully populated loadbalancer."
            )
        if pool.name:
            if pool.name in named:
                raise ValidationFailure(f"Pool name {pool.name} is defined more than once.")
            named[pool.name] = pool
    return named


def _definition(pool: PoolSingleCreate, named: dict[str, PoolSingleCreate]) -> PoolSingleCreate:
    """The definition a pool of the tree stands for (itself, or the one its name refers to)."""
    if not pool.is_reference:
        return pool
    if pool.name not in named:
        raise ValidationFailure(f"Pool {pool.name} is referenced but not defined.")
    return named[str(pool.name)]


def add_tree(
    session: Session,
    lb: m.LoadBalancer,
    listeners: list[ListenerSingleCreate],
    pools: list[PoolSingleCreate],
    now: datetime,
) -> None:
    """Fully populated create: validate the whole tree, then write it."""
    named = _definitions(listeners, pools)
    ports = [listener.protocol_port for listener in listeners]
    for listener in listeners:
        if ports.count(listener.protocol_port) > 1:
            raise Conflict(
                "Another Listener on this Load Balancer is already using protocol_port "
                f"{listener.protocol_port}"
            )
        if listener.default_pool_id is not None:
            raise ValidationFailure(
                "default_pool_id cannot refer to an existing pool in a fully populated create."
            )
        if listener.default_pool is not None:
            definition = _definition(listener.default_pool, named)
            check_protocols(listener.protocol, str(definition.protocol))
        for policy in listener.l7policies:
            if policy.redirect_pool is not None:
                check_redirect_pool(
                    listener.protocol, str(_definition(policy.redirect_pool, named).protocol)
                )

    created: dict[int, str] = {}  # id() of a definition -> pool id
    for definition in [*pools, *_inline_pools(listeners)]:
        if not definition.is_reference and id(definition) not in created:
            created[id(definition)] = add_pool(session, lb, definition, now).id
    for listener in listeners:
        pool_id = None
        if listener.default_pool is not None:
            pool_id = created[id(_definition(listener.default_pool, named))]
        row = add_listener(session, lb, listener, now, pool_id)
        for policy in listener.l7policies:
            target = policy.redirect_pool
            redirect = created[id(_definition(target, named))] if target is not None else None
            add_policy(session, row, policy, redirect, now)

"""Read one load balancer's desired state as frozen data for the reconciler."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.l7 import L7State, load_l7
from steelyard.db.networks import network_by_name, subnets_of
from steelyard.db.protection import Layers, listener_effective, protection_layers
from steelyard.db.repair import haproxy_threads
from steelyard.db.secrets import tls_specs
from steelyard.model.enums import (
    HealthMonitorType,
    HTTPMethod,
    LBAlgorithm,
    ListenerProtocol,
    PoolProtocol,
    ProvisioningStatus,
    SessionPersistenceType,
)
from steelyard.model.listener import allowed_networks
from steelyard.model.spec import (
    HealthMonitorSpec,
    ListenerSpec,
    ListenerTlsSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    SessionPersistenceSpec,
)

DELETING = ProvisioningStatus.PENDING_DELETE.value


@dataclass(frozen=True)
class VipNetwork:
    network_id: str
    kind: str  # "bridge" or "loopback"
    bridge: str | None
    cidr: str
    gateway_ip: str | None


@dataclass(frozen=True)
class ApplianceRecord:
    id: str
    name: str
    slot: int
    status: str
    netns: str | None
    applied_generation: int
    config_sha256: str | None
    role: str = "STANDALONE"
    host: str = ""
    own_address: str | None = None  # on the VIP network (ACTIVE_STANDBY, ACTIVE_ACTIVE)


@dataclass(frozen=True)
class Doomed:
    """Children marked PENDING_DELETE when the snapshot was taken: removed after success."""

    listeners: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    healthmonitors: tuple[str, ...] = ()
    l7policies: tuple[str, ...] = ()
    l7rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class LbSnapshot:
    generation: int
    applied_generation: int
    resyncs_requested: int  # record_applied's guard against a resync asked for meanwhile
    deleting: bool
    topology: str
    provider: str  # "appliance", or "noop": the API only, no data plane
    appliance_count: int
    availability_zone: str | None
    vip_subnet_id: str
    network: VipNetwork
    spec: LoadBalancerSpec
    appliances: tuple[ApplianceRecord, ...]
    doomed: Doomed
    haproxy_threads: int | None = None  # issue 4 (repair): the flavor's (None: the server's)


def _persistence(raw: dict[str, Any] | None) -> SessionPersistenceSpec | None:
    if not raw:
        return None
    return SessionPersistenceSpec(
        type=SessionPersistenceType(raw["type"]),
        cookie_name=raw.get("cookie_name"),
        persistence_timeout=raw.get("persistence_timeout"),
        persistence_granularity=raw.get("persistence_granularity"),
    )


def _healthmonitor(hm: m.HealthMonitor | None) -> HealthMonitorSpec | None:
    if hm is None or hm.provisioning_status == DELETING:
        return None
    return HealthMonitorSpec(
        id=hm.id,
        type=HealthMonitorType(hm.type),
        delay=hm.delay,
        timeout=hm.timeout,
        max_retries=hm.max_retries,
        max_retries_down=hm.max_retries_down,
        http_method=HTTPMethod(hm.http_method or "GET"),
        url_path=hm.url_path or "/",
        expected_codes=hm.expected_codes or "200",
        http_version=hm.http_version,
        domain_name=hm.domain_name,
        admin_state_up=hm.admin_state_up,
    )


def _member(row: m.Member) -> MemberSpec:
    return MemberSpec(
        id=row.id,
        address=row.address,
        protocol_port=row.protocol_port,
        weight=row.weight,
        backup=row.backup,
        admin_state_up=row.admin_state_up,
        monitor_address=row.monitor_address,
        monitor_port=row.monitor_port,
    )


def _listener(
    row: m.Listener,
    live_pools: set[str],
    layers: Layers,
    l7: L7State,
    tls: ListenerTlsSpec | None,
) -> ListenerSpec:
    return ListenerSpec(
        id=row.id,
        protocol=ListenerProtocol(row.protocol),
        protocol_port=row.protocol_port,
        default_pool_id=row.default_pool_id if row.default_pool_id in live_pools else None,
        connection_limit=row.connection_limit,
        timeout_client_data=row.timeout_client_data,
        timeout_member_connect=row.timeout_member_connect,
        timeout_member_data=row.timeout_member_data,
        timeout_tcp_inspect=row.timeout_tcp_inspect,
        insert_headers=tuple(sorted((str(k), str(v)) for k, v in row.insert_headers.items())),
        admin_state_up=row.admin_state_up,
        allowed_cidrs=allowed_networks(row.allowed_cidrs),
        protection=listener_effective(row, layers),
        l7policies=l7.by_listener.get(row.id, ()),
        tls=tls,
    )


def load_snapshot(session: Session, lb_id: str) -> LbSnapshot | None:
    lb = session.get(m.LoadBalancer, lb_id)
    if lb is None:
        return None
    subnet = session.get_one(m.Subnet, lb.vip_subnet_id)
    network = session.get_one(m.Network, lb.vip_network_id)
    listeners = session.scalars(
        select(m.Listener).where(m.Listener.loadbalancer_id == lb_id).order_by(m.Listener.id)
    ).all()
    pools = session.scalars(
        select(m.Pool).where(m.Pool.loadbalancer_id == lb_id).order_by(m.Pool.id)
    ).all()
    pool_ids = [p.id for p in pools]
    members = session.scalars(
        select(m.Member).where(m.Member.pool_id.in_(pool_ids)).order_by(m.Member.id)
    ).all()
    monitors = {
        hm.pool_id: hm
        for hm in session.scalars(
            select(m.HealthMonitor).where(m.HealthMonitor.pool_id.in_(pool_ids))
        )
    }
    appliances = appliance_records(session, lb_id)

    layers = protection_layers(session, lb_id)
    live_pools = [p for p in pools if p.provisioning_status != DELETING]
    live_pool_ids = {p.id for p in live_pools}
    l7 = load_l7(session, listeners, live_pool_ids)
    listener_tls, pool_tls = tls_specs(session, listeners, live_pools)  # issue 6
    pool_specs = tuple(
        PoolSpec(
            id=p.id,
            protocol=PoolProtocol(p.protocol),
            lb_algorithm=LBAlgorithm(p.lb_algorithm),
            members=tuple(
                _member(mb)
                for mb in members
                if mb.pool_id == p.id and mb.provisioning_status != DELETING
            ),
            healthmonitor=_healthmonitor(monitors.get(p.id)),
            session_persistence=_persistence(p.session_persistence),
            admin_state_up=p.admin_state_up,
            tls=pool_tls.get(p.id),
        )
        for p in live_pools
    )
    spec = LoadBalancerSpec(
        id=lb.id,
        vip_address=lb.vip_address,
        listeners=tuple(
            _listener(li, live_pool_ids, layers, l7, listener_tls.get(li.id))
            for li in listeners
            if li.provisioning_status != DELETING
        ),
        pools=pool_specs,
        admin_state_up=lb.admin_state_up,
    )
    doomed = Doomed(
        listeners=tuple(li.id for li in listeners if li.provisioning_status == DELETING),
        pools=tuple(p.id for p in pools if p.provisioning_status == DELETING),
        members=tuple(
            mb.id
            for mb in members
            if mb.provisioning_status == DELETING or mb.pool_id not in live_pool_ids
        ),
        healthmonitors=tuple(
            hm.id
            for hm in monitors.values()
            if hm.provisioning_status == DELETING or hm.pool_id not in live_pool_ids
        ),
        l7policies=l7.doomed_policies,
        l7rules=l7.doomed_rules,
    )
    return LbSnapshot(
        generation=lb.desired_generation,
        applied_generation=lb.applied_generation,
        resyncs_requested=lb.resyncs_requested,
        deleting=lb.deleting,
        topology=lb.topology,
        provider=lb.provider,
        appliance_count=lb.appliance_count,
        availability_zone=lb.availability_zone,
        vip_subnet_id=lb.vip_subnet_id,
        network=_vip_network(network, subnet),
        spec=spec,
        appliances=appliances,
        doomed=doomed,
        haproxy_threads=haproxy_threads(session, lb),
    )


def appliance_records(session: Session, lb_id: str) -> tuple[ApplianceRecord, ...]:
    rows = session.scalars(
        select(m.Appliance).where(m.Appliance.loadbalancer_id == lb_id).order_by(m.Appliance.slot)
    )
    return tuple(
        ApplianceRecord(
            id=a.id,
            name=a.name,
            slot=a.slot,
            status=a.status,
            netns=a.netns,
            applied_generation=a.applied_generation,
            config_sha256=a.config_sha256,
            role=a.role,
            host=a.host,
            own_address=a.vrrp_ip,
        )
        for a in rows
    )


def _vip_network(network: m.Network, subnet: m.Subnet) -> VipNetwork:
    return VipNetwork(
        network_id=network.id,
        kind=network.kind,
        bridge=network.bridge,
        cidr=subnet.cidr,
        gateway_ip=subnet.gateway_ip,
    )


def vip_network_named(session: Session, name: str) -> VipNetwork | None:
    """A network and its first subnet, by network name (the default VIP network at start)."""
    network = network_by_name(session, name)
    subnets = subnets_of(session, network.id) if network is not None else []
    if network is None or not subnets:
        return None
    return _vip_network(network, subnets[0])

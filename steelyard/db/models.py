"""SQLAlchemy tables. Only `db/` touches these; other layers see frozen data or pydantic models.

Every load balancer carries the reconcile bookkeeping (DESIGN.md principles 1 and 6):
`desired_generation` is bumped by every write to the load balancer or any child,
`applied_generation` is written by the reconciler after the appliances match, and the
lease columns say which controller is working on it until when.
"""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, synonym

ID = String(36)
NULLABLE_JSON = JSON(none_as_null=True)  # None is SQL NULL, not the JSON text 'null'


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Stamped:
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Provisioned(Stamped):
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    provisioning_status: Mapped[str] = mapped_column(String(16))
    operating_status: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(default=list)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    lookup: Mapped[str] = mapped_column(String(16), unique=True)  # public prefix of the key
    secret_hash: Mapped[str] = mapped_column(String(128))  # scrypt of the whole key
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    role: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Network(Stamped, Base):
    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    project_id: Mapped[str] = mapped_column(String(255))  # owner; shared networks are listed to all
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(16))  # "bridge" (netns driver) or "loopback"
    bridge: Mapped[str | None] = mapped_column(String(15), nullable=True)
    # issue 3: the ECMP router's address on this network (ACTIVE_ACTIVE), allocated on first use
    router_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Subnet(Stamped, Base):
    __tablename__ = "subnets"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip_version: Mapped[int] = mapped_column(Integer)


class LoadBalancer(Provisioned, Base):
    __tablename__ = "loadbalancers"
    vip_address: Mapped[str] = mapped_column(String(64))
    vip_network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"))
    vip_subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"))
    vip_port_id: Mapped[str] = mapped_column(ID)
    provider: Mapped[str] = mapped_column(String(64), default="appliance")
    flavor_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    topology: Mapped[str] = mapped_column(String(16), default="SINGLE")
    # how many appliances serve the VIP: 1 SINGLE, 2 ACTIVE_STANDBY, n >= 2 ACTIVE_ACTIVE
    appliance_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # reconcile bookkeeping
    desired_generation: Mapped[int] = mapped_column(Integer, default=1)
    applied_generation: Mapped[int] = mapped_column(Integer, default=0)
    # one more for every resync asked for (db/operating.request_resync, migration 0016)
    resyncs_requested: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # protection (issue 5): the operator's layers; tenants cannot loosen them
    protection_override: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    under_attack: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    __table_args__ = (
        UniqueConstraint("vip_subnet_id", "vip_address", name="uq_lb_vip"),
        Index("ix_lb_dirty", "desired_generation", "applied_generation"),
    )


class Listener(Provisioned, Base):
    __tablename__ = "listeners"
    loadbalancer_id: Mapped[str] = mapped_column(ForeignKey("loadbalancers.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(32))
    protocol_port: Mapped[int] = mapped_column(Integer)
    connection_limit: Mapped[int] = mapped_column(Integer, default=-1)
    default_pool_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    timeout_client_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_member_connect: Mapped[int] = mapped_column(Integer, default=5000)
    timeout_member_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_tcp_inspect: Mapped[int] = mapped_column(Integer, default=0)
    insert_headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the tenant's Protection as given (absent fields left out); None: the defaults apply
    protection: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    # TLS (issue 6, migration 0007): Octavia's attributes; *_ref hold a reference as the client
    # gave it (model/tls.py `secret_id_of` finds the secret in it)
    default_tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sni_container_refs: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    client_authentication: Mapped[str] = mapped_column(
        String(16), default="NONE", server_default="NONE"
    )
    client_ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_crl_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    tls_versions: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON)
    alpn_protocols: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON)
    hsts_max_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hsts_include_subdomains: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="0"
    )
    hsts_preload: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Octavia's allowed_cidrs (migration 0009), as the client gave them; []: everyone
    allowed_cidrs: Mapped[list[str]] = mapped_column(default=list, server_default="[]")

    __table_args__ = (
        UniqueConstraint("loadbalancer_id", "protocol_port", name="uq_listener_port"),
    )


class Pool(Provisioned, Base):
    __tablename__ = "pools"
    loadbalancer_id: Mapped[str] = mapped_column(ForeignKey("loadbalancers.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(32))
    lb_algorithm: Mapped[str] = mapped_column(String(32))
    session_persistence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # TLS to the members (issue 6, migration 0007), Octavia's attributes
    tls_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    crl_container_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    tls_versions: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON)
    alpn_protocols: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON)


class Member(Provisioned, Base):
    __tablename__ = "members"
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), index=True)
    address: Mapped[str] = mapped_column(String(64))
    protocol_port: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    backup: Mapped[bool] = mapped_column(Boolean, default=False)
    subnet_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    monitor_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    monitor_port: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        UniqueConstraint("pool_id", "address", "protocol_port", name="uq_member_endpoint"),
    )


class HealthMonitor(Provisioned, Base):
    __tablename__ = "healthmonitors"
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    delay: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    max_retries_down: Mapped[int] = mapped_column(Integer, default=3)
    http_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    url_path: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    expected_codes: Mapped[str | None] = mapped_column(String(64), nullable=True)
    http_version: Mapped[float | None] = mapped_column(nullable=True)
    domain_name: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Appliance(Stamped, Base):
    """One HAProxy appliance of a load balancer (Octavia: amphora), or a spare (no load
    balancer yet, status READY)."""

    __tablename__ = "appliances"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    loadbalancer_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    slot: Mapped[int] = mapped_column(Integer, default=0)
    # STANDALONE (SINGLE), MASTER or BACKUP (ACTIVE_STANDBY, as keepalived last reported),
    # ACTIVE (ACTIVE_ACTIVE)
    role: Mapped[str] = mapped_column(String(16), default="STANDALONE")
    # BOOTING, READY (a spare), ALLOCATED, FAILED (to be replaced), ERROR, DELETED
    status: Mapped[str] = mapped_column(String(16), index=True)
    compute_driver: Mapped[str] = mapped_column(String(16))
    netns: Mapped[str | None] = mapped_column(String(64), nullable=True)
    host: Mapped[str] = mapped_column(String(255))
    vip_address: Mapped[str] = mapped_column(String(64))
    applied_generation: Mapped[int] = mapped_column(Integer, default=0)
    config_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # issue 3: the appliance's own address on the VIP network (VRRP source, ECMP next hop)
    vrrp_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vrrp_priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # heartbeats: the highest sequence number accepted (replays carry lower ones)
    heartbeat_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    failed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Issue 4 (migration 0014): what the appliance's agent reported when it was last placed
    # (GET /v1/info): its versions, where it is reached, its TLS server certificate's expiry.
    agent_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    haproxy_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent_address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    agent_cert_not_after: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


def _counter() -> Mapped[int]:
    return mapped_column(BigInteger, default=0, server_default="0")


class TrafficCounters:
    """What HAProxy counts for a frontend, backend or server, summed over the appliances
    (cumulative, across reloads; active_connections is the current value). Issue 4 (metering,
    migration 0012) added the error kinds, requests and every HTTP status class."""

    bytes_in: Mapped[int] = _counter()
    bytes_out: Mapped[int] = _counter()
    active_connections: Mapped[int] = _counter()
    total_connections: Mapped[int] = _counter()
    request_errors: Mapped[int] = _counter()  # ereq
    connection_errors: Mapped[int] = _counter()  # econ
    response_errors: Mapped[int] = _counter()  # eresp
    requests: Mapped[int] = _counter()  # req_tot (HTTP)
    hrsp_1xx: Mapped[int] = _counter()
    hrsp_2xx: Mapped[int] = _counter()
    hrsp_3xx: Mapped[int] = _counter()
    hrsp_4xx: Mapped[int] = _counter()
    hrsp_5xx: Mapped[int] = _counter()
    hrsp_other: Mapped[int] = _counter()


class ListenerStats(TrafficCounters, Base):
    """Counters of one listener (its FRONTEND rows), as last read from its appliances."""

    __tablename__ = "listener_stats"
    listener_id: Mapped[str] = mapped_column(ID, primary_key=True)
    loadbalancer_id: Mapped[str] = mapped_column(ID, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class DeploymentSetting(Base):
    """Operator settings of the whole deployment, one JSON value per key
    (e.g. "protection_defaults")."""

    __tablename__ = "deployment_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Event(Base):
    """Something that happened to a load balancer or the deployment, for operators (and the
    load balancer's tenant): protection breaches, operator actions, later failovers..."""

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    type: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "protection.breach"
    severity: Mapped[str] = mapped_column(String(16))  # info, warning, critical
    loadbalancer_id: Mapped[str | None] = mapped_column(ID, index=True, nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(255), index=True, nullable=True)
    listener_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Issue 4 (migration 0011): what only operators see (an apply's error text, hosts...).
    operator_details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ListenerRejections(Base):
    """Connections and requests a listener's protection refused, per reason (cumulative)."""

    __tablename__ = "listener_rejections"
    listener_id: Mapped[str] = mapped_column(ID, primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    loadbalancer_id: Mapped[str] = mapped_column(ID, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


# Issue 6: flavors, availability zones and quotas. Deployment-wide, so admins manage them; the
# provider data (`*_data`) is kept as the JSON text the admin sent, validated at every write.


class FlavorProfile(Stamped, Base):
    __tablename__ = "flavor_profiles"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(64))
    flavor_data: Mapped[str] = mapped_column(Text)


class Flavor(Stamped, Base):
    """What a tenant picks at create (`flavor_id`); the load balancer copies its settings."""

    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    flavor_profile_id: Mapped[str] = mapped_column(ForeignKey("flavor_profiles.id"), index=True)


class AvailabilityZoneProfile(Stamped, Base):
    __tablename__ = "availability_zone_profiles"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(64))
    availability_zone_data: Mapped[str] = mapped_column(Text)


class AvailabilityZone(Stamped, Base):
    """Named by its key, as in Octavia (`availability_zone` of a load balancer)."""

    __tablename__ = "availability_zones"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    # list pages are keyed on `id`: here it is the name
    id: Mapped[str] = synonym("name")
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone_profile_id: Mapped[str] = mapped_column(
        ForeignKey("availability_zone_profiles.id"), index=True
    )


class Quota(Stamped, Base):
    """A project's limits; NULL: the deployment default (deployment_settings "quota_defaults",
    unlimited unless set); -1: unlimited."""

    __tablename__ = "quotas"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[str] = synonym("project_id")  # list pages are keyed on `id`
    load_balancer: Mapped[int | None] = mapped_column(Integer, nullable=True)
    listener: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pool: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_monitor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    member: Mapped[int | None] = mapped_column(Integer, nullable=True)
    l7policy: Mapped[int | None] = mapped_column(Integer, nullable=True)
    l7rule: Mapped[int | None] = mapped_column(Integer, nullable=True)


# Issue 6: L7 policies of HTTP listeners and their rules.


class L7Policy(Provisioned, Base):
    """Policies of a listener apply in `position` order (1, 2, ... among the live ones)."""

    __tablename__ = "l7policies"
    listener_id: Mapped[str] = mapped_column(ForeignKey("listeners.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    redirect_pool_id: Mapped[str | None] = mapped_column(ID, index=True, nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    redirect_prefix: Mapped[str | None] = mapped_column(String(255), nullable=True)
    redirect_http_code: Mapped[int | None] = mapped_column(Integer, nullable=True)


class L7Rule(Provisioned, Base):
    __tablename__ = "l7rules"
    l7policy_id: Mapped[str] = mapped_column(ForeignKey("l7policies.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    compare_type: Mapped[str] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value: Mapped[str] = mapped_column(String(255))
    invert: Mapped[bool] = mapped_column(Boolean, default=False)


# Issue 6: the TLS secret store (migration 0007).


class Secret(Stamped, Base):
    """A certificate with its key and chain, CA certificates, or CRLs, of one project.

    `sealed` is the PEM an appliance reads, encrypted (db/secret_box.py: AES-256-GCM, bound to
    the secret's id, project and version); everything else describes the certificate and is
    shown to the tenant. `version` changes with the content and names the appliance's file.
    """

    __tablename__ = "secrets"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    type: Mapped[str] = mapped_column(String(16))  # certificate, ca, crl
    version: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    issuer: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject_alt_names: Mapped[list[str]] = mapped_column(default=list)
    not_before: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    not_after: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    fingerprint_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    certificates: Mapped[int] = mapped_column(Integer, default=0)


# Issue 4: webhooks, where alerts go, and their deliveries (migration 0011).


class Webhook(Base):
    """An operator's alert receiver: URL, HMAC secret (sealed, db/secret_box.py) and filters
    (JSON lists; empty: every value passes)."""

    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str] = mapped_column(String(2048))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    severities: Mapped[list[str]] = mapped_column(JSON, default=list)
    loadbalancer_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    project_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class WebhookDelivery(Base):
    """One event for one webhook: pending (due at next_attempt_at), delivered, or dead (gave
    up; an operator may retry it). Written with the event, so no alert is lost to a crash."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ID, index=True)
    event_id: Mapped[str] = mapped_column(ID, index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# Issue 4: metering (migration 0012). Counters per pool (BACKEND rows), member (server rows) and
# per appliance and listener (Octavia's amphora stats); usage per project and hour for billing.


class PoolStats(TrafficCounters, Base):
    __tablename__ = "pool_stats"
    pool_id: Mapped[str] = mapped_column(ID, primary_key=True)
    loadbalancer_id: Mapped[str] = mapped_column(ID, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MemberStats(TrafficCounters, Base):
    __tablename__ = "member_stats"
    member_id: Mapped[str] = mapped_column(ID, primary_key=True)
    pool_id: Mapped[str] = mapped_column(ID, index=True)
    loadbalancer_id: Mapped[str] = mapped_column(ID, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ApplianceListenerStats(TrafficCounters, Base):
    """One appliance's share of a listener's counters (active_connections: its own)."""

    __tablename__ = "appliance_listener_stats"
    appliance_id: Mapped[str] = mapped_column(ID, primary_key=True)
    listener_id: Mapped[str] = mapped_column(ID, primary_key=True)
    loadbalancer_id: Mapped[str] = mapped_column(ID, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class UsageRecord(Base):
    """What a load balancer used in one hour (`hour`: its start, naive UTC): seconds it existed
    and bytes its listeners moved. Written by telemetry.usage; kept after the load balancer."""

    __tablename__ = "usage_records"
    loadbalancer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime, primary_key=True, index=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    bytes_in: Mapped[int] = _counter()
    bytes_out: Mapped[int] = _counter()
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class UsageMeter(Base):
    """How far a load balancer's usage is accrued: up to `accrued_until`, and its listeners'
    byte counters as last seen (gains since are the next records' bytes). Removed once the
    load balancer is gone and its last seconds and bytes are accrued."""

    __tablename__ = "usage_meters"
    loadbalancer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    accrued_until: Mapped[datetime] = mapped_column(DateTime)
    bytes_in_seen: Mapped[int] = _counter()
    bytes_out_seen: Mapped[int] = _counter()


# Issue 4 (repair, migration 0013): hosts appliances are placed on, the host an operator moved
# a load balancer to, and operator repair requests (done once the load balancer's applied
# generation reaches theirs).


class Host(Stamped, Base):
    """A place for appliances, declared at start (`serve --host NAME[:CAPACITY][@GROUP]`). The
    embedded server's one agent serves every host, so a host is a placement label (capacity,
    drain, zones' host groups) until agents run on several machines."""

    __tablename__ = "hosts"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    id: Mapped[str] = synonym("name")  # list pages are keyed on `id`
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: no limit
    # ACTIVE; DRAINING (takes no new appliance, its own move away); UNDECLARED (not declared at
    # the last start, still holds appliances)
    state: Mapped[str] = mapped_column(String(16))
    host_group: Mapped[str | None] = mapped_column(String(63), nullable=True)


class LoadBalancerHost(Base):
    """The host an operator migrated a load balancer to: its new appliances go there while
    the host can take them."""

    __tablename__ = "loadbalancer_hosts"
    loadbalancer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    host: Mapped[str] = mapped_column(String(63))


class RepairRequest(Base):
    __tablename__ = "repair_requests"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    loadbalancer_id: Mapped[str] = mapped_column(ID, index=True)
    action: Mapped[str] = mapped_column(String(16))  # failover, resync, migrate, resize
    generation: Mapped[int] = mapped_column(Integer)  # done once applied up to here
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# Issue 4, logs: HAProxy's access logs (flow logs) and the admin logs of the appliances,
# collected from the agents (telemetry/logs_collector.py), pruned by age and row count. Integer
# keys: rows are many, and the newest and oldest are found by key.


class FlowLog(Base):
    """One request (HTTP listener) or connection (TCP listener) through a load balancer."""

    __tablename__ = "flow_logs"
    __table_args__ = (
        Index("ix_flow_logs_lb_time", "loadbalancer_id", "created_at"),
        Index("ix_flow_logs_lb_status", "loadbalancer_id", "status_code", "created_at"),
        {"sqlite_autoincrement": True},  # a key is never used twice, also after pruning
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # accepted by HAProxy
    loadbalancer_id: Mapped[str] = mapped_column(ID)
    project_id: Mapped[str] = mapped_column(String(255))
    listener_id: Mapped[str] = mapped_column(ID)
    appliance: Mapped[str] = mapped_column(String(40))
    client_address: Mapped[str] = mapped_column(String(64))
    client_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    http_method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    http_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    bytes_in: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bytes_out: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pool_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    member_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    time_request_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_queue_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_connect_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_response_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_total_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    termination_state: Mapped[str | None] = mapped_column(String(4), nullable=True)


class AdminLog(Base):
    """A message of an appliance's agent, HAProxy or keepalived (or of an agent itself)."""

    __tablename__ = "admin_logs"
    __table_args__ = (
        Index("ix_admin_logs_lb_time", "loadbalancer_id", "created_at"),
        Index("ix_admin_logs_source_time", "source", "created_at"),
        Index("ix_admin_logs_appliance_time", "appliance", "created_at"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    source: Mapped[str] = mapped_column(String(16))  # agent, haproxy, keepalived
    severity: Mapped[str] = mapped_column(String(16))  # syslog's names: err, warning, info...
    appliance: Mapped[str | None] = mapped_column(String(40), nullable=True)
    loadbalancer_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    message: Mapped[str] = mapped_column(Text)

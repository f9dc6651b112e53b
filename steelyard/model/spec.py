"""What the renderers take: one load balancer's desired data plane as plain frozen data.

The controller builds a `LoadBalancerSpec` from the database; renderers turn it into text.
Only objects that should be in the data plane appear here (no PENDING_DELETE children).
Values are the API's values, already validated; renderers still quote or reject anything
that could change the structure of a config file.
"""

from dataclasses import dataclass, field

from steelyard.model.enums import (
    ClientAuthentication,
    HealthMonitorType,
    HTTPMethod,
    LBAlgorithm,
    ListenerProtocol,
    PoolProtocol,
    SessionPersistenceType,
)
from steelyard.model.l7 import L7CompareType, L7PolicyAction, L7RuleType


@dataclass(frozen=True)
class SessionPersistenceSpec:
    type: SessionPersistenceType
    cookie_name: str | None = None
    persistence_timeout: int | None = None  # seconds, SOURCE_IP stick table expiry
    persistence_granularity: str | None = None  # netmask for SOURCE_IP


@dataclass(frozen=True)
class HealthMonitorSpec:
    id: str
    type: HealthMonitorType
    delay: int  # seconds between checks
    timeout: int  # seconds to wait for a check
    max_retries: int  # successes to go UP ("rise")
    max_retries_down: int  # failures to go DOWN ("fall")
    http_method: HTTPMethod = HTTPMethod.GET
    url_path: str = "/"
    expected_codes: str = "200"  # "200", "200,202", "200-204"
    http_version: float | None = None  # 1.0 or 1.1
    domain_name: str | None = None  # Host header for HTTP/1.1 checks
    admin_state_up: bool = True


@dataclass(frozen=True)
class MemberSpec:
    id: str
    address: str
    protocol_port: int
    weight: int = 1  # 0..256; 0 drains
    backup: bool = False
    admin_state_up: bool = True
    monitor_address: str | None = None
    monitor_port: int | None = None


@dataclass(frozen=True)
class TlsFile:
    """A secret of the secret store as a file on the appliance (see render/haproxy_tls.py).

    Files are named by secret id and content version, so new content is a new file name and
    the config that names it changes with it (a rotation reloads; a rollback finds the old
    file still in place).
    """

    secret_id: str
    version: str  # changes whenever the secret's content does


@dataclass(frozen=True)
class PoolTlsSpec:
    """Re-encryption to the members (an Octavia pool with `tls_enabled`)."""

    client_certificate: TlsFile | None = None  # presented to the members
    ca: TlsFile | None = None  # members' certificates must chain to it (else: not verified)
    crl: TlsFile | None = None
    tls_versions: tuple[str, ...] = ("TLSv1.2", "TLSv1.3")  # Octavia's names, a range
    ciphers: str | None = None  # OpenSSL cipher names joined by ":"; TLS 1.3 suites too
    alpn_protocols: tuple[str, ...] = ()  # offered to members by http-mode backends


@dataclass(frozen=True)
class PoolSpec:
    id: str
    protocol: PoolProtocol
    lb_algorithm: LBAlgorithm
    members: tuple[MemberSpec, ...] = ()
    healthmonitor: HealthMonitorSpec | None = None
    session_persistence: SessionPersistenceSpec | None = None
    admin_state_up: bool = True
    tls: PoolTlsSpec | None = None  # None: plain connections to the members


@dataclass(frozen=True)
class ProtectionSpec:
    """DDoS mitigation and rate limits of one listener, already merged (tenant settings,
    deployment defaults, operator overrides; see model/protection.py). None = no limit.

    Sources are the real client addresses: the TCP peer, or the PROXY protocol address when
    `accept_proxy` is set, or the last X-Forwarded-For hop when the peer is one of
    `trusted_proxies` (HTTP listeners only).
    """

    max_conn_per_source: int | None = None  # concurrent connections per source
    conn_rate_per_source: int | None = None  # new connections per source per period
    conn_rate_period_s: int = 10
    req_rate_per_source: int | None = None  # HTTP requests per source per period
    req_rate_period_s: int = 10
    action: str = "http_429"  # "reject" (TCP reset), "http_429" (+ Retry-After), "tarpit"
    retry_after_s: int = 10
    tarpit_s: int = 5
    http_request_timeout_ms: int | None = None  # slow clients: whole request headers
    max_header_bytes: int | None = None  # HTTP: all request headers together
    max_body_bytes: int | None = None  # HTTP: declared Content-Length
    deny_cidrs: tuple[str, ...] = ()  # never reach a member
    allow_cidrs: tuple[str, ...] = ()  # exempt from the rate limits (not from deny_cidrs)
    max_connections: int | None = None  # ceiling for the whole listener
    trusted_proxies: tuple[str, ...] = ()
    accept_proxy: bool = False
    table_size: int = 1_000_000  # source entries tracked per listener


@dataclass(frozen=True)
class L7RuleSpec:
    id: str
    type: L7RuleType
    compare_type: L7CompareType
    value: str
    key: str | None = None  # header, cookie or DN field name
    invert: bool = False
    admin_state_up: bool = True


@dataclass(frozen=True)
class L7PolicySpec:
    """One L7 policy of an HTTP listener. Enabled policies apply in `position` order; the
    first whose enabled rules all match decides (a policy without enabled rules never does)."""

    id: str
    action: L7PolicyAction
    position: int
    rules: tuple[L7RuleSpec, ...] = ()
    redirect_pool_id: str | None = None
    redirect_url: str | None = None
    redirect_prefix: str | None = None
    redirect_http_code: int | None = None
    admin_state_up: bool = True


@dataclass(frozen=True)
class ListenerTlsSpec:
    """TLS termination of a TERMINATED_HTTPS listener."""

    certificates: tuple[TlsFile, ...]  # the default certificate first, then the SNI ones
    client_authentication: ClientAuthentication = ClientAuthentication.NONE
    client_ca: TlsFile | None = None
    client_crl: TlsFile | None = None
    tls_versions: tuple[str, ...] = ("TLSv1.2", "TLSv1.3")
    ciphers: str | None = None
    alpn_protocols: tuple[str, ...] = ()
    hsts_max_age: int | None = None  # seconds; None: no Strict-Transport-Security header
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False


@dataclass(frozen=True)
class ListenerSpec:
    id: str
    protocol: ListenerProtocol
    protocol_port: int
    default_pool_id: str | None = None
    connection_limit: int = -1  # -1 = unlimited (renderer applies the deployment ceiling)
    timeout_client_data: int = 50000  # milliseconds, Octavia's defaults
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    timeout_tcp_inspect: int = 0
    insert_headers: tuple[tuple[str, str], ...] = ()  # e.g. (("X-Forwarded-For", "true"),)
    admin_state_up: bool = True
    # Networks in normal form that may connect (checked first); () means everyone.
    allowed_cidrs: tuple[str, ...] = ()
    protection: ProtectionSpec | None = None
    tls: ListenerTlsSpec | None = None  # TERMINATED_HTTPS listeners only
    l7policies: tuple[L7PolicySpec, ...] = ()


@dataclass(frozen=True)
class LoadBalancerSpec:
    id: str
    vip_address: str
    listeners: tuple[ListenerSpec, ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    admin_state_up: bool = True


@dataclass(frozen=True)
class RuntimePaths:
    """Where the appliance keeps its runtime files; chosen by the agent, not the tenant."""

    stats_socket: str
    server_state_file: str
    log_socket: str | None = None
    # Where the certificate, key, CA and CRL files the config names are written (0600).
    tls_dir: str | None = None


@dataclass(frozen=True)
class RenderSettings:
    """Deployment settings (operator-controlled)."""

    paths: RuntimePaths
    max_connections: int = 5000  # global maxconn ceiling; fits the 20,000 open-file limit
    default_listener_maxconn: int = 5000  # used when connection_limit is -1
    nbthread: int = 1
    hard_stop_after_s: int = 30
    # This appliance's HAProxy peer name (HAProxy runs with `-L <name>`): stick tables then sync
    # through a local-only `peers` section, so their counters survive a reload. Only where each
    # appliance has its own loopback (netns driver): the peer listens on a fixed port.
    local_peer: str | None = None
    # Per-request flow logs (a log-format per listener), as Octavia's
    # [haproxy_amphora] connection_logging. Off: listeners get `no log`; HAProxy's own messages
    # (server up/down, ...) still go to paths.log_socket.
    connection_logging: bool = True
    extra: dict[str, str] = field(default_factory=dict)

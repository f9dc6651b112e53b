"""Live diagnostics of an appliance, as its agent reports them and operators read them.

The agent answers with these types (agent/contract.py names the routes) and the operator API
passes them on, adding plain-language verdicts (api/operator/verdicts.py):

- `ApplianceDiagnostics`: HAProxy's `show info`, `show stat`, `show servers state` and a
  summary of `show sess`; keepalived's state and instances; the namespace's interfaces,
  addresses and routes. A section that cannot be read is absent and `errors` says why.
- `ConnectivityRequest` -> `ConnectivityReport`: from inside the appliance's namespace, a TCP
  connect to every target with its timing and precise error, and the health check request
  (HTTP(S) or a TLS handshake) where the pool has one.

Every value of a request reaches a socket or a request line: addresses are unicast IPs (no
names, no zone ids), paths and codes follow the health monitor's patterns, and sizes are capped.
"""

import ipaddress
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from steelyard.model.enums import HTTPMethod
from steelyard.model.fields import matching
from steelyard.model.healthmonitor import DomainName, ExpectedCodes, HttpVersion, UrlPath

MAX_TARGETS = 256  # per connectivity request
MAX_CONCURRENCY = 64
DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT_S = 2.0  # per step of a probe: the connect, then the check's answer
MAX_TIMEOUT_S = 5.0
MAX_DURATION_S = 50.0  # worst case of one connectivity request (the agent client waits 60 s)
MAX_SESSIONS_SCANNED = 20_000  # `show sess` lines summarised; beyond, the summary is partial

# Member and pool ids (UUIDs) or a server/backend name of a config not rendered by Steelyard.
OBJECT_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}"
ObjectName = Annotated[
    str,
    StringConstraints(max_length=64),
    matching(OBJECT_NAME_PATTERN, "must be an id: letters, digits, _ . : -"),
]


def _unicast(value: str) -> str:
    # Zone ids ("fe80::1%eth0") would name an interface of the appliance; names need a resolver.
    if "%" in value or len(value) > 45:
        raise ValueError("must be an IP address")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IP address") from None
    if (
        address.is_unspecified
        or address.is_multicast
        or address == ipaddress.IPv4Address("255.255.255.255")
    ):
        raise ValueError("must be a unicast address")
    return address.compressed


UnicastAddress = Annotated[str, AfterValidator(_unicast)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]  # "80" is not a port
CheckKind = Literal["TCP", "HTTP", "HTTPS", "TLS-HELLO"]
ProbeError = Literal["refused", "timeout", "unreachable", "reset", "tls", "protocol", "error"]


# --- connectivity -------------------------------------------------------------------------


class _Request(BaseModel):
    # Not strict: the agent's FastAPI and its client validate parsed JSON (python mode).
    model_config = ConfigDict(extra="forbid")


class HealthCheckProbe(_Request):
    """The request a pool's health monitor makes (HTTP/HTTPS), or its TLS handshake."""

    type: CheckKind = "HTTP"
    http_method: HTTPMethod = HTTPMethod.GET
    url_path: UrlPath = "/"
    expected_codes: ExpectedCodes = "200"
    http_version: HttpVersion | None = None  # None: HTTP/1.0, as HAProxy's checks
    domain_name: DomainName | None = None  # the Host header (HTTP/1.1)


class ProbeTarget(_Request):
    member_id: ObjectName | None = None
    pool_id: ObjectName | None = None
    address: UnicastAddress
    port: Port
    # Where the health check goes when the member has a monitor address or port.
    monitor_address: UnicastAddress | None = None
    monitor_port: Port | None = None
    check: HealthCheckProbe | None = None  # None: the TCP connect alone


class ConnectivityRequest(_Request):
    """Targets to test; None: every server of the config in force (TCP connects only).

    A probe waits at most three times `timeout_s` (connect, check connect, answer; once with
    no check), so a request whose worst case exceeds MAX_DURATION_S is refused rather than
    left to time out."""

    targets: list[ProbeTarget] | None = Field(default=None, max_length=MAX_TARGETS)
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, ge=0.05, le=MAX_TIMEOUT_S, strict=True)
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, le=MAX_CONCURRENCY, strict=True)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if worst_case_s(self) > MAX_DURATION_S:
            raise ValueError(
                f"up to {worst_case_s(self):.0f} s of probes: more than {MAX_DURATION_S} s; "
                "raise concurrency, lower timeout_s or send fewer targets"
            )
        return self


def worst_case_s(request: ConnectivityRequest) -> float:
    """How long the probes of `request` can take at most (targets from the running config
    get a TCP connect alone)."""
    targets = request.targets
    count = MAX_TARGETS if targets is None else len(targets)
    steps = 3 if targets and any(target.check is not None for target in targets) else 1
    rounds = -(-count // request.concurrency)  # ceiling
    return rounds * steps * request.timeout_s


class TcpResult(BaseModel):
    ok: bool
    connect_ms: float | None = None  # how long the connect took (or until it failed)
    error: ProbeError | None = None
    errno: str | None = None  # "ECONNREFUSED", ...
    detail: str | None = None  # the system's own words


class CheckResult(BaseModel):
    type: CheckKind
    request: str  # "GET /health HTTP/1.0 -> 10.0.0.5:8080", "TLS handshake -> ..."
    ok: bool
    status_code: int | None = None
    expected_codes: str | None = None
    response_ms: float | None = None  # from the request sent to the status line read
    error: ProbeError | Literal["unexpected_status"] | None = None
    errno: str | None = None
    detail: str | None = None


ProbeVerdict = Literal[
    "ok", "refused", "timeout", "unreachable", "reset", "error", "check_failed", "unexpected_status"
]


class ProbeResult(BaseModel):
    target: ProbeTarget
    tcp: TcpResult
    check: CheckResult | None = None
    verdict: ProbeVerdict  # "ok" only when the connect and the check (if any) both passed


class ConnectivityReport(BaseModel):
    appliance: str
    netns: str | None
    source: Literal["request", "running_config"]
    timeout_s: float
    duration_ms: float
    results: list[ProbeResult]


# --- state --------------------------------------------------------------------------------


class HaproxyInfo(BaseModel):
    """Selected fields of `show info` (None: HAProxy did not report it)."""

    version: str | None = None
    release_date: str | None = None
    pid: int | None = None
    nbthread: int | None = None
    uptime: str | None = None
    uptime_sec: int | None = None
    maxconn: int | None = None
    hard_maxconn: int | None = None
    ulimit_n: int | None = None
    curr_conns: int | None = None
    cum_conns: int | None = None
    cum_req: int | None = None
    conn_rate: int | None = None
    max_conn_rate: int | None = None
    sess_rate: int | None = None
    curr_ssl_conns: int | None = None
    listeners: int | None = None
    jobs: int | None = None
    run_queue: int | None = None
    idle_pct: int | None = None
    stopping: int | None = None
    dropped_logs: int | None = None


class StatLine(BaseModel):
    """One row of `show stat`: a frontend, a backend or a server (named by the member id)."""

    proxy: str
    name: str  # FRONTEND, BACKEND, or the server
    type: Literal["frontend", "backend", "server", "listener"]
    status: str
    address: str | None = None
    weight: int | None = None
    current_sessions: int = 0
    max_sessions: int = 0
    session_limit: int | None = None
    total_sessions: int = 0
    queued: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    request_errors: int = 0
    connection_errors: int = 0
    response_errors: int = 0
    http_responses: dict[str, int] = Field(default_factory=dict)  # "2xx" -> count
    check_status: str | None = None  # L4OK, L4CON, L4TOUT, L7STS, ...
    check_code: int | None = None  # the HTTP status of the last check
    check_duration_ms: int | None = None
    check_description: str | None = None
    last_check: str | None = None  # HAProxy's words: "Connection refused", ...
    check_failures: int = 0
    down_transitions: int = 0
    last_change_s: int | None = None
    downtime_s: int | None = None


class ServerState(BaseModel):
    """One line of `show servers state`, decoded."""

    backend: str
    server: str
    address: str
    port: int | None
    operational_state: str  # STOPPED, STARTING, RUNNING, STOPPING
    admin_state: list[str]  # FMAINT, IMAINT, CMAINT, FDRAIN, IDRAIN, RMAINT, HMAINT
    user_weight: int | None
    initial_weight: int | None
    seconds_since_change: int | None
    check_result: str | None  # UNKNOWN, NEUTRAL, FAILED, PASSED, CONDPASS
    check_address: str | None = None
    check_port: int | None = None


class SessionSummary(BaseModel):
    """`show sess`, counted (the CLI's own session left out); `truncated`: only the first
    `scanned` sessions were counted."""

    total: int
    by_frontend: dict[str, int]
    by_backend: dict[str, int]
    by_server: dict[str, int]  # "backend/server"
    scanned: int
    truncated: bool


class VrrpInstance(BaseModel):
    """A vrrp_instance of the keepalived.conf in force."""

    name: str
    interface: str | None = None
    virtual_router_id: int | None = None
    priority: int | None = None
    version: int | None = None
    advert_int: float | None = None
    nopreempt: bool = False
    unicast_src_ip: str | None = None
    unicast_peers: list[str] = Field(default_factory=list)
    virtual_ipaddresses: list[str] = Field(default_factory=list)


class KeepalivedState(BaseModel):
    configured: bool
    running: bool
    pid: int | None
    vrrp_state: str | None  # MASTER, BACKUP, FAULT, STOP; None: no keepalived
    instances: list[VrrpInstance]


class Interface(BaseModel):
    name: str
    state: str  # UP, DOWN, UNKNOWN, LOWERLAYERDOWN, ...
    mtu: int | None = None
    mac: str | None = None
    flags: list[str] = Field(default_factory=list)
    addresses: list[str] = Field(default_factory=list)  # "198.18.0.10/24"


class Route(BaseModel):
    family: Literal["inet", "inet6"]
    destination: str
    type: str | None = None  # unicast, local, blackhole, unreachable, ...
    gateway: str | None = None
    device: str | None = None
    source: str | None = None
    protocol: str | None = None
    scope: str | None = None
    nexthops: list[str] = Field(default_factory=list)  # "via 198.18.0.11 dev eth0" (ECMP)


class NetworkState(BaseModel):
    netns: str
    interfaces: list[Interface]
    routes: list[Route]


Section = Literal["info", "stats", "servers", "sessions", "keepalived", "network"]


class ApplianceDiagnostics(BaseModel):
    appliance: str
    netns: str | None
    collected_at: datetime
    duration_ms: float
    haproxy_running: bool
    generation: int | None
    config_sha256: str | None
    info: HaproxyInfo | None = None
    stats: list[StatLine] = Field(default_factory=list)
    servers: list[ServerState] = Field(default_factory=list)
    sessions: SessionSummary | None = None
    keepalived: KeepalivedState | None = None
    network: NetworkState | None = None
    errors: dict[Section, str] = Field(default_factory=dict)  # why a section is missing


# --- the operator API ---------------------------------------------------------------------


class Verdict(BaseModel):
    """One finding in plain language, for the operator (and the tenant's ticket)."""

    severity: Literal["error", "warning", "info"]
    code: str  # member_refused, member_down, pool_down, agent_unreachable, ... (README)
    message: str
    appliance_ids: list[str] = Field(default_factory=list)  # where it was seen
    member_id: str | None = None
    pool_id: str | None = None


class ApplianceReport(BaseModel):
    """One appliance: what the database says, and what its agent says (None: no answer, and
    `error` says why)."""

    appliance_id: str
    name: str
    role: str
    status: str
    host: str
    reachable: bool
    error: str | None = None
    diagnostics: ApplianceDiagnostics | None = None


class LoadBalancerDiagnostics(BaseModel):
    loadbalancer_id: str
    project_id: str | None
    provisioning_status: str
    operating_status: str
    topology: str
    desired_generation: int
    applied_generation: int
    appliances: list[ApplianceReport]
    verdicts: list[Verdict]


class ApplianceDiagnosticsOut(BaseModel):
    loadbalancer_id: str | None  # None: a spare
    appliance: ApplianceReport
    verdicts: list[Verdict]


class ApplianceConnectivity(BaseModel):
    appliance_id: str
    name: str
    role: str
    host: str
    reachable: bool
    error: str | None = None
    report: ConnectivityReport | None = None


class LoadBalancerConnectivity(BaseModel):
    loadbalancer_id: str
    members_tested: int
    members_not_tested: int  # beyond MAX_TARGETS
    appliances: list[ApplianceConnectivity]
    verdicts: list[Verdict]

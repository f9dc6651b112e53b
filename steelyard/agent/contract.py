"""The appliance agent's REST contract (mutual TLS), shared by its server and its client.

  GET    /v1/info                               -> AgentInfo
  PUT    /v1/appliances/{name}                  ApplianceCreate -> ApplianceInfo (idempotent)
  GET    /v1/appliances/{name}                  -> ApplianceInfo (404 if unknown)
  DELETE /v1/appliances/{name}                  -> 204 (stops HAProxy, removes its files)
  PUT    /v1/appliances/{name}/config           ConfigApply -> ApplyResult
                                                400 ApplyError when HAProxy rejects the config
                                                (the previous config keeps serving)
  GET    /v1/appliances/{name}/stats            -> list[StatRow]
  GET    /v1/appliances/{name}/protection       -> ProtectionStats (409 when not running)
  POST   /v1/appliances/{name}/vrrp/release     [VrrpReleaseRequest] -> VrrpRelease: a MASTER
                                                drains HAProxy, hands its VIPs over and
                                                stays BACKUP (409 when keepalived is not
                                                running)
  GET    /v1/appliances/{name}/diagnostics      -> ApplianceDiagnostics
  POST   /v1/appliances/{name}/connectivity     ConnectivityRequest -> ConnectivityReport
                                                (409 when it names no targets and HAProxy
                                                is not running); both types live in
                                                steelyard.model.diagnostics (the operator
                                                API passes them on)
  GET    /v1/logs?after=<cursor>&limit=<n>      -> LogBatch (log_records.py): flow and admin
                                                log records of every appliance numbered
                                                above `after`, oldest first, as compact rows

Appliance names match `NAME_PATTERN`; anything else is a 400.
"""

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from steelyard.agent.netns import parse_address
from steelyard.model.vrrp import KeepalivedPaths

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
# Files a config names (TLS certificates and keys, CAs, CRLs, crt-lists): a bare name, never a
# path; the renderer uses "<id>-<hex version>.pem" and "<listener id>-<hex>.crtlist".
TLS_FILE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}\.(pem|crtlist)$"
MAX_TLS_FILES = 1000
MAX_TLS_FILE = 1_000_000  # characters; the secret store takes at most 256 KiB per secret
MAX_TLS_TOTAL = 32_000_000
MAX_HEARTBEAT_TARGETS = 8
DRAIN_TIMEOUT_S = 5.0  # a planned VIP handover's default drain (VrrpReleaseRequest)
# Why a protected listener refused a client, in the order of the gpc counters the renderer
# writes into each `sr_<listener id>` table (render/protection.py `REASONS`; a test pins both).
REJECTION_REASONS = ("deny_cidr", "max_conn", "conn_rate", "req_rate", "header_size", "body_size")


class AgentInfo(BaseModel):
    agent_version: str
    haproxy_version: str
    appliances: list[str]
    # Expiry of the agent's TLS server certificate and of the CA (None when not known).
    server_cert_not_after: datetime | None = None
    ca_cert_not_after: datetime | None = None


class ApplianceCreate(BaseModel):
    netns: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # Health managers to send heartbeats to, "198.18.0.1:5555" or "[fd00::1]:5555"; reached
    # from inside the appliance's namespace. Kept in appliance.json across agent restarts.
    heartbeat_to: list[str] = Field(default_factory=list, max_length=MAX_HEARTBEAT_TARGETS)

    @field_validator("heartbeat_to")
    @classmethod
    def _addresses(cls, targets: list[str]) -> list[str]:
        for target in targets:
            parse_address(target)  # ValueError: pydantic reports it as a validation error
        return targets


class RuntimePathsOut(BaseModel):
    stats_socket: str
    server_state_file: str
    log_socket: str | None = None
    tls_dir: str | None = None  # where ConfigApply.files go (None from older agents)
    keepalived: KeepalivedPaths | None = None  # what a rendered keepalived.conf names


class ApplianceInfo(BaseModel):
    name: str
    netns: str | None
    paths: RuntimePathsOut
    running: bool
    generation: int | None  # generation of the config in force, None before the first apply
    config_sha256: str | None
    master_pid: int | None
    worker_pids: list[int]
    # keepalived's MASTER, BACKUP or FAULT while it runs, STOP once stopped; None: no keepalived.
    vrrp_state: str | None = None
    keepalived_pid: int | None = None


class ConfigApply(BaseModel):
    generation: int = Field(ge=0)
    haproxy_cfg: str = Field(max_length=4_000_000)
    # "address:port" pairs that must accept TCP connections after the apply, else roll back.
    verify_listeners: list[str] = Field(default_factory=list, max_length=1000)
    # keepalived.conf of an appliance that shares its VIPs by VRRP; None: no keepalived (one
    # that runs is stopped). Applied after HAProxy, only when it changed.
    keepalived_cfg: str | None = Field(default=None, max_length=200_000)
    # File name -> text of every file the config names (written 0600 into the appliance's
    # tls_dir before `haproxy -c`; others there are removed once the config is in force).
    files: dict[str, str] = Field(default_factory=dict, max_length=MAX_TLS_FILES)

    @field_validator("files")
    @classmethod
    def _bounded_names(cls, files: dict[str, str]) -> dict[str, str]:
        for name, text in files.items():
            if not re.fullmatch(TLS_FILE_PATTERN, name):
                raise ValueError(f"invalid file name {name[:120]!r}")
            if len(text) > MAX_TLS_FILE:
                raise ValueError(f"file {name} is larger than {MAX_TLS_FILE} characters")
        if sum(len(text) for text in files.values()) > MAX_TLS_TOTAL:
            raise ValueError(f"files are larger than {MAX_TLS_TOTAL} characters together")
        return files


class ApplyResult(BaseModel):
    action: Literal["unchanged", "runtime", "started", "reloaded"]
    generation: int
    config_sha256: str
    runtime_commands: list[str]
    duration_ms: float
    keepalived_action: Literal["none", "unchanged", "started", "reloaded", "stopped"] = "none"


class ApplyError(BaseModel):
    error: str
    output: str
    rolled_back: bool
    # Which step failed: validate (haproxy -c, keepalived -t), start, reload, or verify
    # (listener check); of which program. A keepalived config is validated before anything
    # changes; a keepalived that fails to start leaves HAProxy's new config in force.
    stage: Literal["validate", "start", "reload", "verify"] | None = None
    component: Literal["haproxy", "keepalived"] = "haproxy"


class VrrpReleaseRequest(BaseModel):
    # How long HAProxy may take to finish the requests in flight before the VIP leaves
    # (agent/drain.py); requests still running then are cut.
    drain_timeout_s: float = Field(default=DRAIN_TIMEOUT_S, ge=0, le=60)


class DrainReport(BaseModel):
    """What draining HAProxy before the handover took (agent/drain.py)."""

    drain_ms: float
    reloads: int  # reloads that moved connections to soft-stopping workers
    in_flight_cut: int  # requests still in flight at the drain timeout
    idle_closed: int  # idle keep-alive connections closed at the end
    timed_out: bool


class VrrpRelease(BaseModel):
    released: bool  # False: the appliance was not MASTER, nothing was done
    previous_state: str | None
    vrrp_state: str | None  # after the release: BACKUP (the peer holds the VIPs)
    keepalived_pid: int | None
    duration_ms: float
    drain: DrainReport | None = None  # None: nothing drained (not MASTER, or the drain failed)


class StatRow(BaseModel):
    """One row of HAProxy's `show stat`, the fields Steelyard uses."""

    pxname: str
    svname: str
    status: str  # UP, DOWN, DRAIN, MAINT, no check, OPEN, ...
    weight: int | None = None
    scur: int = 0  # current sessions
    stot: int = 0  # total sessions
    bin: int = 0
    bout: int = 0
    ereq: int = 0
    econ: int = 0
    eresp: int = 0
    check_status: str | None = None
    hrsp_2xx: int = 0
    hrsp_4xx: int = 0
    hrsp_5xx: int = 0
    hrsp_1xx: int = 0
    hrsp_3xx: int = 0
    hrsp_other: int = 0  # responses of no class above (and HAProxy's own, e.g. on a timeout)
    req_tot: int = 0  # HTTP requests (frontends and backends of HTTP proxies)


class SourceStats(BaseModel):
    """One tracked client address (IPv4-mapped IPv6 keys are shown as IPv4)."""

    address: str
    conn_cur: int  # connections open now
    conn_rate: int  # new connections in the listener's conn_rate_period_s
    http_req_rate: int | None = None  # HTTP requests in req_rate_period_s; None on TCP


class ListenerProtection(BaseModel):
    """A protected listener's counters, as HAProxy holds them (they restart at 0 on a reload)."""

    listener_id: str
    rejected: dict[str, int]  # REJECTION_REASONS -> refusals since HAProxy loaded this config
    # The frontend's `ereq`: requests cut by `timeout http-request` (slow clients, answered 408)
    # together with malformed requests; HAProxy's counters do not separate them, its logs do.
    request_errors: int = 0
    tracked_sources: int = 0
    table_size: int = 0
    conn_rate_period_s: int | None = None
    req_rate_period_s: int | None = None
    # The union of the top 10 by http_req_rate, by conn_rate and by conn_cur, busiest first.
    # Above `full_scan_limit` tracked sources only sources over a configured limit are listed.
    # Scans are done at most every 10 s per listener (then `top_sources_age_s` > 0), and on a
    # large table only for limits that have refused something.
    top_sources: list[SourceStats] = Field(default_factory=list)
    top_sources_over_limit_only: bool = False
    top_sources_age_s: float = 0.0


class ProtectionStats(BaseModel):
    listeners: list[ListenerProtection]
    duration_ms: float  # time spent reading HAProxy's tables (it scans them to answer)

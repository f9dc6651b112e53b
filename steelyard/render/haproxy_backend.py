"""One HAProxy `backend` per pool: balancing, persistence, health checks and server lines.

Server lines follow a fixed token order that the runtime diff parses:

    server <member_id> <address>:<port> weight <w>[ backup][ disabled]
        [ check inter <delay>s fall <n> rise <n>][ addr <monitor_address>][ port <monitor_port>]
        [ check-ssl verify none][ cookie <member_id>][ send-proxy | send-proxy-v2]
        [ check-send-proxy][ ssl verify ... (see haproxy_tls.server_tokens)]

(on one line). IPv6 addresses are bracketed, `[2001:db8::1]:80`; see `validate.host`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from steelyard.model.enums import (
    HealthMonitorType,
    HTTPMethod,
    LBAlgorithm,
    PoolProtocol,
    SessionPersistenceType,
)
from steelyard.model.spec import (
    HealthMonitorSpec,
    ListenerSpec,
    MemberSpec,
    PoolSpec,
    SessionPersistenceSpec,
)
from steelyard.render import validate as v
from steelyard.render.errors import RenderError
from steelyard.render.haproxy_tls import frontend_mode, server_tokens, tls_directory

INDENT = "    "
# Octavia's default stick table size (its `stick_size`), enough for the amphora's memory.
STICK_TABLE_SIZE = "10k"
# Octavia documents 360 s as the default persistence_timeout.
DEFAULT_PERSISTENCE_TIMEOUT_S = 360
# HAProxy stores delays in milliseconds in a signed 32-bit integer (about 24.8 days).
MAX_MS = 2**31 - 1
MAX_SECONDS = MAX_MS // 1000
# Variable holding the client's source port for SOURCE_IP_PORT hashing (see `_balance`).
_SRC_PORT_VAR = "txn.sy_src_port"

_ALGORITHMS = {
    LBAlgorithm.ROUND_ROBIN: "roundrobin",
    LBAlgorithm.LEAST_CONNECTIONS: "leastconn",
    LBAlgorithm.SOURCE_IP: "source",
}


@dataclass(frozen=True)
class BackendTimeouts:
    """Member timeouts for a backend, in milliseconds (see `haproxy.backend_timeouts`)."""

    connect_ms: int
    server_ms: int


@dataclass(frozen=True)
class _HealthCheck:
    backend_lines: tuple[str, ...]
    check_tokens: tuple[str, ...]  # "check inter ... rise ..."
    tls: bool  # HTTPS checks: "check-ssl verify none" after addr/port


# Pools that send the PROXY protocol header to their members, and the server keyword for it.
_PROXY_PROTOCOL = {PoolProtocol.PROXY: "send-proxy", PoolProtocol.PROXYV2: "send-proxy-v2"}


def pool_mode(pool: PoolSpec, users: Sequence[ListenerSpec] = ()) -> str:
    """`http` or `tcp`; also used by the frontend to refuse an http→tcp pairing.

    PROXY and PROXYV2 pools take the mode of the listeners that use them (Octavia's rule):
    http when one of them parses HTTP (a tcp frontend may still use an http backend).
    """
    protocol = v.member_of(PoolProtocol, pool.protocol, "pool.protocol")
    if protocol in _PROXY_PROTOCOL:
        return "http" if any(frontend_mode(user) == "http" for user in users) else "tcp"
    return "http" if protocol is PoolProtocol.HTTP else "tcp"


def backend_section(
    pool: PoolSpec,
    timeouts: BackendTimeouts,
    vip_version: int,
    users: Sequence[ListenerSpec] = (),
    tls_dir: str | None = None,
) -> list[str]:
    """`users`: the listeners whose default pool this is; `tls_dir`: RuntimePaths.tls_dir."""
    pool_id = v.uuid(pool.id, "pool.id")
    mode = pool_mode(pool, users)
    enabled = v.boolean(pool.admin_state_up, "pool.admin_state_up")
    algorithm = v.member_of(LBAlgorithm, pool.lb_algorithm, "pool.lb_algorithm")
    lines = [f"backend {pool_id}"]
    body: list[str] = []
    if not enabled:
        # A disabled backend is neither checked nor reachable; listeners skip it.
        body.append("disabled")
    body.append(f"mode {mode}")
    body.extend(_balance(algorithm))
    body.append(f"timeout connect {timeouts.connect_ms}ms")
    body.append(f"timeout server {timeouts.server_ms}ms")
    if pool.session_persistence is not None and not isinstance(
        pool.session_persistence, SessionPersistenceSpec
    ):
        raise RenderError(f"pool.session_persistence: {v.describe(pool.session_persistence)}")
    if pool.healthmonitor is not None and not isinstance(pool.healthmonitor, HealthMonitorSpec):
        raise RenderError(f"pool.healthmonitor: {v.describe(pool.healthmonitor)}")
    http_cookie = False
    if pool.session_persistence is not None:
        persistence_lines, http_cookie = _persistence(pool.session_persistence, mode, vip_version)
        body.extend(persistence_lines)
    check = _health_check(pool.healthmonitor) if pool.healthmonitor is not None else None
    if check is not None:
        body.extend(check.backend_lines)
    members = _members(pool.members)
    extra = _server_extra(pool, mode, tls_dir, check is not None)
    lines.extend(INDENT + line for line in body)
    lines.extend(
        INDENT + _server_line(member, check, http_cookie, extra, pool.tls is not None)
        for member in members
    )
    return lines


def _server_extra(pool: PoolSpec, mode: str, tls_dir: str | None, checked: bool) -> list[str]:
    """Tokens every server of the pool ends with: PROXY protocol, then re-encryption."""
    protocol = v.member_of(PoolProtocol, pool.protocol, "pool.protocol")
    tokens = []
    if protocol in _PROXY_PROTOCOL:
        tokens.append(_PROXY_PROTOCOL[protocol])
        if checked:
            # Members that expect the header refuse a check without it.
            tokens.append("check-send-proxy")
    if pool.tls is not None:
        tokens += server_tokens(pool.tls, tls_directory(tls_dir), mode == "http")
    return tokens


def _balance(algorithm: LBAlgorithm) -> list[str]:
    if algorithm is LBAlgorithm.SOURCE_IP_PORT:
        # HAProxy 2.6 has no built-in source ip+port hash, but `balance hash <expr>` (new in 2.6)
        # takes any sample expression. `concat` only appends variables, so the port is copied
        # into a variable first; backend tcp-request content rules run before server selection
        # in both tcp and http mode. The key is "<src>:<src_port>".
        return [
            f"tcp-request content set-var({_SRC_PORT_VAR}) src_port",
            f"balance hash src,concat(:,{_SRC_PORT_VAR})",
        ]
    return [f"balance {_ALGORITHMS[algorithm]}"]


def _persistence(
    persistence: SessionPersistenceSpec, mode: str, vip_version: int
) -> tuple[list[str], bool]:
    """Backend lines for session persistence, and whether servers need a `cookie` value."""
    kind = v.member_of(SessionPersistenceType, persistence.type, "pool.session_persistence.type")
    if kind is SessionPersistenceType.SOURCE_IP:
        return _source_ip_persistence(persistence, vip_version), False
    if mode != "http":
        # HAProxy ignores cookies outside http mode; refuse rather than silently not persist.
        raise RenderError(f"{kind.value} session persistence needs an HTTP pool")
    if kind is SessionPersistenceType.HTTP_COOKIE:
        # Octavia always names the inserted cookie SRV and ignores cookie_name here.
        return ["cookie SRV insert indirect nocache"], True
    if persistence.cookie_name is None:
        raise RenderError("APP_COOKIE session persistence needs a cookie_name")
    name = v.cookie_name(persistence.cookie_name, "pool.session_persistence.cookie_name")
    return [
        f"stick-table type string len 64 size {STICK_TABLE_SIZE}",
        f"stick store-response res.cook({name})",
        f"stick match req.cook({name})",
    ], False


def _source_ip_persistence(persistence: SessionPersistenceSpec, vip_version: int) -> list[str]:
    timeout = DEFAULT_PERSISTENCE_TIMEOUT_S
    if persistence.persistence_timeout is not None:
        timeout = v.integer(
            persistence.persistence_timeout,
            "pool.session_persistence.persistence_timeout",
            1,
            MAX_SECONDS,
        )
    # Clients reach an IPv6 VIP with IPv6 source addresses; a `type ip` table cannot hold them.
    table_type = "ipv6" if vip_version == 6 else "ip"
    key = "src"
    if persistence.persistence_granularity is not None:
        field = "pool.session_persistence.persistence_granularity"
        version, prefix = v.netmask_prefix(persistence.persistence_granularity, field)
        if version != vip_version:
            raise RenderError(f"{field} must be an IPv{vip_version} netmask like the VIP")
        if version == 4 and prefix < 32:
            key = f"src,ipmask({prefix})"
        elif version == 6 and prefix < 128:
            # ipmask takes the IPv4 mask first; IPv6 clients only use the second one.
            key = f"src,ipmask(32,{prefix})"
    return [
        f"stick-table type {table_type} size {STICK_TABLE_SIZE} expire {timeout}s",
        f"stick on {key}",
    ]


def _health_check(monitor: HealthMonitorSpec) -> _HealthCheck | None:
    """The backend lines and server tokens of an enabled monitor; None when it is disabled.

    Fields are checked even when the monitor is disabled, so that enabling it later cannot be
    the moment a bad value surfaces.
    """
    v.uuid(monitor.id, "healthmonitor.id")
    kind = v.member_of(HealthMonitorType, monitor.type, "healthmonitor.type")
    delay = v.integer(monitor.delay, "healthmonitor.delay", 1, MAX_SECONDS)
    timeout = v.integer(monitor.timeout, "healthmonitor.timeout", 1, MAX_SECONDS)
    rise = v.integer(monitor.max_retries, "healthmonitor.max_retries", 1, 10)
    fall = v.integer(monitor.max_retries_down, "healthmonitor.max_retries_down", 1, 10)
    http = kind in (HealthMonitorType.HTTP, HealthMonitorType.HTTPS)
    # HTTP fields of TCP and TLS-HELLO monitors are never written, so they are not checked.
    http_lines = _http_check_lines(monitor) if http else []
    if not v.boolean(monitor.admin_state_up, "healthmonitor.admin_state_up"):
        return None
    backend_lines = [f"timeout check {timeout}s"]
    if http:
        backend_lines.extend(http_lines)
    elif kind is HealthMonitorType.TLS_HELLO:
        backend_lines.append("option ssl-hello-chk")
    # TCP: a plain connect check needs no backend option.
    return _HealthCheck(
        backend_lines=tuple(backend_lines),
        check_tokens=("check", "inter", f"{delay}s", "fall", str(fall), "rise", str(rise)),
        tls=kind is HealthMonitorType.HTTPS,
    )


def _http_check_lines(monitor: HealthMonitorSpec) -> list[str]:
    method = v.member_of(HTTPMethod, monitor.http_method, "healthmonitor.http_method")
    path = v.url_path(monitor.url_path, "healthmonitor.url_path")
    codes = v.expected_codes(monitor.expected_codes, "healthmonitor.expected_codes")
    send = ["http-check", "send", "meth", method.value, "uri", path]
    version = monitor.http_version
    if version is not None:
        # Only two versions exist for checks; compare exactly rather than format a float.
        if isinstance(version, bool) or version not in (1.0, 1.1):
            raise RenderError(
                f"healthmonitor.http_version must be 1.0 or 1.1, got {v.describe(version)}"
            )
        send += ["ver", "HTTP/1.1" if version == 1.1 else "HTTP/1.0"]
    if monitor.domain_name is not None:
        send += ["hdr", "Host", v.hostname(monitor.domain_name, "healthmonitor.domain_name")]
    # `option httpchk` turns the checks into HTTP; `http-check send` (2.2+) builds the request
    # from separate tokens, so no "\r\n" is spliced into a request line as older configs did.
    return ["option httpchk", " ".join(send), f"http-check expect status {codes}"]


def _members(members: tuple[MemberSpec, ...]) -> list[MemberSpec]:
    # Sorted by id so that the output does not depend on the order the database returned.
    # Types and ids were checked with the other ids in `haproxy._check_unique_ids`.
    return sorted(members, key=lambda member: member.id)


def _server_line(
    member: MemberSpec,
    check: _HealthCheck | None,
    http_cookie: bool,
    extra: list[str],
    tls: bool,
) -> str:
    member_id = v.uuid(member.id, "member.id")
    address = v.ip_address(member.address, "member.address")
    port = v.port(member.protocol_port, "member.protocol_port")
    weight = v.integer(member.weight, "member.weight", 0, 256)  # 0 drains
    tokens = ["server", member_id, v.host_port(address, port), "weight", str(weight)]
    if v.boolean(member.backup, "member.backup"):
        tokens.append("backup")
    if not v.boolean(member.admin_state_up, "member.admin_state_up"):
        tokens.append("disabled")
    monitor_address = None
    if member.monitor_address is not None:
        monitor_address = v.ip_address(member.monitor_address, "member.monitor_address")
    monitor_port = None
    if member.monitor_port is not None:
        monitor_port = v.port(member.monitor_port, "member.monitor_port")
    if check is not None:
        # addr/port only redirect checks, so they are written only when checks run.
        tokens.extend(check.check_tokens)
        if monitor_address is not None:
            tokens += ["addr", v.host(monitor_address)]
        if monitor_port is not None:
            tokens += ["port", str(monitor_port)]
        if check.tls and tls:
            # A re-encrypting pool's checks take the servers' own `ssl` settings (CA included);
            # check-ssl keeps them in TLS when addr/port send them elsewhere.
            tokens.append("check-ssl")
        elif check.tls:
            # Members are plain pools: there is no CA to verify a check's TLS handshake against.
            tokens += ["check-ssl", "verify", "none"]
    if http_cookie:
        tokens += ["cookie", member_id]
    return " ".join([*tokens, *extra])

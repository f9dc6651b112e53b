"""Render one load balancer's `haproxy.cfg` (HAProxy 2.6): pure, deterministic, no I/O.

Layout and naming contract (other modules depend on it):
- `global` and `defaults`, then one `frontend` per listener named by the listener id, sorted by
  port, then one `backend` per pool named by the pool id, sorted by id, with one `server` per
  member named by the member id (format in `haproxy_backend`), then the stick tables of each
  protected listener in listener order (`st_<listener id>`, `sr_<listener id>`; see
  `protection`). With `settings.local_peer` and at least one stick table, a `peers sy_local`
  section follows `defaults` and every stick table names it. Sorting makes the text independent
  of the order the spec was built in, so an unchanged load balancer never reloads.
- Pools used by no listener are still rendered, so that their members are health-checked.

Every value is checked against an allow-list (`validate`) and rejected with `RenderError` when it
does not fit; every line is checked once more before joining (`_check_lines`), as a second line
of defence against a missed check.
"""

import re

from steelyard.model.spec import (
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    RenderSettings,
)
from steelyard.render import validate as v
from steelyard.render.errors import RenderError
from steelyard.render.haproxy_backend import (
    INDENT,
    MAX_MS,
    MAX_SECONDS,
    BackendTimeouts,
    backend_section,
)
from steelyard.render.haproxy_frontend import (
    FrontendContext,
    frontend_protection,
    frontend_section,
)
from steelyard.render.haproxy_log import LOG_LINE_LENGTH

__all__ = ["render_haproxy"]

# Octavia's listener defaults, used by `defaults` and by pools that no listener uses.
DEFAULT_CONNECT_MS = 5000
DEFAULT_DATA_MS = 50000
# HAProxy 2.6 builds allow at most 64 threads without thread groups.
MAX_THREADS = 64
MAX_CONNECTIONS = 10_000_000
# The `peers` section of a local peer (see `_with_local_peer`) and the port it listens on: fixed,
# since each appliance has its own loopback (netns driver).
PEERS_SECTION = "sy_local"
LOCAL_PEER_PORT = 1024
_PEER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def render_haproxy(spec: LoadBalancerSpec, settings: RenderSettings) -> str:
    """The full configuration text for `spec`; raises `RenderError` for an unsafe value."""
    if not isinstance(spec, LoadBalancerSpec) or not isinstance(settings, RenderSettings):
        raise RenderError("render_haproxy needs a LoadBalancerSpec and RenderSettings")
    lb_id = v.uuid(spec.id, "loadbalancer.id")
    vip = v.ip_address(spec.vip_address, "loadbalancer.vip_address")
    lb_enabled = v.boolean(spec.admin_state_up, "loadbalancer.admin_state_up")
    listeners = _listeners(spec.listeners)
    pools = _pools(spec.pools)
    _check_unique_ids(listeners, pools)
    global_lines, logging, max_connections, default_maxconn = _global_section(settings)
    context = FrontendContext(
        vip=vip,
        pools={pool.id: pool for pool in pools},
        lb_enabled=lb_enabled,
        logging=logging,
        max_connections=max_connections,
        default_listener_maxconn=default_maxconn,
        tls_dir=settings.paths.tls_dir,
        connection_logging=v.boolean(settings.connection_logging, "settings.connection_logging"),
    )
    sections = [global_lines, _defaults_section(logging)]
    sections.extend(frontend_section(listener, context) for listener in listeners)
    sections.extend(
        backend_section(
            pool,
            backend_timeouts(pool.id, listeners),
            vip.version,
            _users(pool.id, listeners),
            settings.paths.tls_dir,
        )
        for pool in pools
    )
    sections.extend(_protection_tables(listeners, context))
    if settings.local_peer is not None:
        sections = _with_local_peer(sections, _peer_name(settings.local_peer))
    _check_lines(sections)
    header = f"# haproxy.cfg for load balancer {lb_id}, rendered by steelyard; do not edit"
    return header + "\n" + "\n\n".join("\n".join(section) for section in sections) + "\n"


def backend_timeouts(pool_id: str, listeners: list[ListenerSpec]) -> BackendTimeouts:
    """Member timeouts for a pool: the largest among the listeners that use it.

    `timeout connect` and `timeout server` only exist in backends, and a pool may serve several
    listeners (Octavia renders one backend per listener and pool; here a pool is one backend).
    The most patient listener wins, so no listener's members are cut off earlier than asked.
    """
    users = [listener for listener in listeners if listener.default_pool_id == pool_id]
    if not users:
        return BackendTimeouts(DEFAULT_CONNECT_MS, DEFAULT_DATA_MS)
    connect = [
        _ms(user.timeout_member_connect, "listener.timeout_member_connect") for user in users
    ]
    data = [_ms(user.timeout_member_data, "listener.timeout_member_data") for user in users]
    return BackendTimeouts(connect_ms=max(connect), server_ms=max(data))


def _users(pool_id: str, listeners: list[ListenerSpec]) -> list[ListenerSpec]:
    """Listeners that send traffic to a pool: by default or through an L7 policy."""
    return [
        listener
        for listener in listeners
        if listener.default_pool_id == pool_id
        or any(policy.redirect_pool_id == pool_id for policy in listener.l7policies)
    ]


def _protection_tables(listeners: list[ListenerSpec], context: FrontendContext) -> list[list[str]]:
    tables: list[list[str]] = []
    for listener in listeners:
        protection = frontend_protection(listener, context)
        if protection is not None:
            tables.extend(list(table) for table in protection.tables)
    return tables


def _peer_name(value: object) -> str:
    if not isinstance(value, str) or not _PEER_NAME.fullmatch(value):
        raise RenderError(f"settings.local_peer must be an appliance name, got {v.describe(value)}")
    return value


def _with_local_peer(sections: list[list[str]], peer: str) -> list[list[str]]:
    """Stick tables synced through a `peers` section whose only peer is this process.

    On a master-worker reload the old worker pushes its tables to the new one, so rate-limit
    counters and persistence entries survive a config change. Unchanged without stick tables.
    """
    prefix = INDENT + "stick-table "
    synced = [
        [f"{line} peers {PEERS_SECTION}" if line.startswith(prefix) else line for line in section]
        for section in sections
    ]
    if synced == sections:
        return sections
    peers = [f"peers {PEERS_SECTION}", f"{INDENT}peer {peer} 127.0.0.1:{LOCAL_PEER_PORT}"]
    return [*synced[:2], peers, *synced[2:]]


def _ms(value: object, field: str) -> int:
    return v.integer(value, field, 0, MAX_MS)


def _listeners(listeners: object) -> list[ListenerSpec]:
    if not isinstance(listeners, tuple | list):
        raise RenderError(f"loadbalancer.listeners must be a sequence, got {v.describe(listeners)}")
    checked: list[ListenerSpec] = []
    ports: set[int] = set()
    for listener in listeners:
        if not isinstance(listener, ListenerSpec):
            raise RenderError(f"loadbalancer.listeners holds {v.describe(listener)}")
        port = v.port(listener.protocol_port, "listener.protocol_port")
        if port in ports:
            raise RenderError(f"two listeners use port {port}")
        ports.add(port)
        checked.append(listener)
    return sorted(checked, key=lambda listener: int(listener.protocol_port))


def _pools(pools: object) -> list[PoolSpec]:
    if not isinstance(pools, tuple | list):
        raise RenderError(f"loadbalancer.pools must be a sequence, got {v.describe(pools)}")
    checked: list[PoolSpec] = []
    for pool in pools:
        if not isinstance(pool, PoolSpec):
            raise RenderError(f"loadbalancer.pools holds {v.describe(pool)}")
        v.uuid(pool.id, "pool.id")
        if not isinstance(pool.members, tuple | list) or not all(
            isinstance(member, MemberSpec) for member in pool.members
        ):
            raise RenderError(f"pool.members must be MemberSpecs, got {v.describe(pool.members)}")
        checked.append(pool)
    return sorted(checked, key=lambda pool: pool.id)


def _check_unique_ids(listeners: list[ListenerSpec], pools: list[PoolSpec]) -> None:
    """Section and server names must not collide; ids are compared case-insensitively."""
    seen: set[str] = set()
    named = [(listener.id, "listener.id") for listener in listeners]
    named += [(pool.id, "pool.id") for pool in pools]
    named += [(member.id, "member.id") for pool in pools for member in pool.members]
    for value, field in named:
        key = v.uuid(value, field).lower()
        if key in seen:
            raise RenderError(f"id {key} is used twice")
        seen.add(key)


def _global_section(settings: RenderSettings) -> tuple[list[str], bool, int, int]:
    """The `global` lines, whether logging is on, and the two connection limits."""
    paths = settings.paths
    stats_socket = v.absolute_path(paths.stats_socket, "paths.stats_socket", v.MAX_UNIX_SOCKET_PATH)
    state_file = v.absolute_path(paths.server_state_file, "paths.server_state_file")
    max_connections = v.integer(
        settings.max_connections, "settings.max_connections", 1, MAX_CONNECTIONS
    )
    default_maxconn = v.integer(
        settings.default_listener_maxconn, "settings.default_listener_maxconn", 1, MAX_CONNECTIONS
    )
    nbthread = v.integer(settings.nbthread, "settings.nbthread", 1, MAX_THREADS)
    hard_stop = v.integer(settings.hard_stop_after_s, "settings.hard_stop_after_s", 1, MAX_SECONDS)
    body = [
        f"maxconn {max_connections}",
        f"nbthread {nbthread}",
        # Bounds how long an old worker may keep serving long connections after a reload.
        f"hard-stop-after {hard_stop}s",
        # level admin: the agent's runtime API; expose-fd listeners: a new worker takes the
        # listening sockets over from the old one (hitless reload in master-worker mode).
        f"stats socket {stats_socket} mode 600 level admin expose-fd listeners",
        # The agent dumps server states here before a reload so that check results survive it.
        f"server-state-file {state_file}",
    ]
    logging = paths.log_socket is not None
    if paths.log_socket is not None:
        log_socket = v.absolute_path(paths.log_socket, "paths.log_socket", v.MAX_UNIX_SOCKET_PATH)
        # A target starting with "/" is a UNIX datagram socket in HAProxy's `log` syntax; the
        # agent reads RFC 5424 (its timestamps carry microseconds and the offset).
        body.append(f"log {log_socket} len {LOG_LINE_LENGTH} format rfc5424 local0")
    # settings.extra is deliberately not rendered: free-form text has no allow-list.
    return ["global", *(INDENT + line for line in body)], logging, max_connections, default_maxconn


def _defaults_section(logging: bool) -> list[str]:
    body = ["mode tcp"]
    if logging:
        # dontlognull: the agent's listener checks after a reload are connections, not traffic.
        body += ["log global", "option dontlognull"]
    body += [
        "option redispatch",
        "retries 3",
        f"timeout connect {DEFAULT_CONNECT_MS}ms",
        f"timeout client {DEFAULT_DATA_MS}ms",
        f"timeout server {DEFAULT_DATA_MS}ms",
        "load-server-state-from-file global",
    ]
    return ["defaults", *(INDENT + line for line in body)]


def _check_lines(sections: list[list[str]]) -> None:
    """Second line of defence: each line, before joining, is one line of literal characters.

    Checked before the lines are joined, so that a newline smuggled past a validator is caught
    as what it is rather than read as two harmless-looking lines.
    """
    for section in sections:
        for line in section:
            v.config_line(line)

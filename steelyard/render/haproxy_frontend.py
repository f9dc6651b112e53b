"""One HAProxy `frontend` per listener, named by the listener id."""

import ipaddress
from dataclasses import dataclass

from steelyard.model.enums import ListenerProtocol
from steelyard.model.listener import MAX_ALLOWED_CIDRS
from steelyard.model.spec import ListenerSpec, PoolSpec
from steelyard.render import validate as v
from steelyard.render.errors import RenderError
from steelyard.render.haproxy_backend import INDENT, MAX_MS, pool_mode
from steelyard.render.haproxy_l7 import ROUTED, L7Lines, l7_lines
from steelyard.render.haproxy_log import log_format_line
from steelyard.render.haproxy_tls import (
    SSL_HEADER_LINES,
    bind_tokens,
    frontend_mode,
    hsts_line,
    listener_tls,
    tls_directory,
)
from steelyard.render.protection import ProtectionLines, cidrs, network_acl, render_protection

# What each supported insert_headers key adds to an HTTP frontend, in output order.
# Frontend rules run once per request whichever backend serves it, so a pool shared by
# listeners with different header choices still gets each listener's own headers.
_HEADER_LINES = {
    "X-Forwarded-For": "option forwardfor",
    "X-Forwarded-Port": "http-request set-header X-Forwarded-Port %[dst_port]",
    "X-Forwarded-Proto": "http-request set-header X-Forwarded-Proto http",
}


@dataclass(frozen=True)
class FrontendContext:
    """What a frontend needs from outside its listener."""

    vip: v.IPAddress
    pools: dict[str, PoolSpec]  # by pool id, already checked to be unique UUIDs
    lb_enabled: bool
    logging: bool  # a log socket: HAProxy's messages go to the agent
    max_connections: int
    default_listener_maxconn: int
    tls_dir: str | None = None  # where certificate files are (RuntimePaths.tls_dir)
    connection_logging: bool = True  # and a flow log line per request (RenderSettings)


def frontend_section(listener: ListenerSpec, context: FrontendContext) -> list[str]:
    listener_id = v.uuid(listener.id, "listener.id")
    port = v.port(listener.protocol_port, "listener.protocol_port")
    enabled = v.boolean(listener.admin_state_up, "listener.admin_state_up")
    mode = frontend_mode(listener)  # http for HTTP and TERMINATED_HTTPS
    tls = listener_tls(listener)
    client_ms = v.integer(listener.timeout_client_data, "listener.timeout_client_data", 0, MAX_MS)
    inspect_ms = v.integer(listener.timeout_tcp_inspect, "listener.timeout_tcp_inspect", 0, MAX_MS)
    protection = frontend_protection(listener, context)
    maxconn = _maxconn(listener.connection_limit, context)
    bind = f"bind {v.host_port(context.vip, port)}"
    if tls is not None:
        bind = " ".join((bind, *bind_tokens(listener_id, tls, tls_directory(context.tls_dir))))
    if protection is not None:
        bind = " ".join((bind, *protection.bind_options))
        if protection.maxconn is not None:
            maxconn = min(maxconn, protection.maxconn)
    body: list[str] = []
    if not (enabled and context.lb_enabled):
        # Disabled listeners keep their section so that the names stay stable; the load
        # balancer's own admin_state_up disables every listener.
        body.append("disabled")
    body.append(f"mode {mode}")
    if mode == "http":
        # An old worker (after a reload, or draining before a planned VIP handover) answers
        # the next request of an idle keep-alive connection with "Connection: close" instead
        # of closing it at once: closing races a request the client is sending (measured: a
        # reset on reload under keep-alive load) and a client cannot tell it was not served.
        body.append("option idle-close-on-response")
    body.append(bind)
    body.append(f"maxconn {maxconn}")
    body.append(f"timeout client {client_ms}ms")
    if inspect_ms > 0:
        body.append(f"tcp-request inspect-delay {inspect_ms}ms")
    if context.logging and context.connection_logging:
        body.append(log_format_line("http" if mode == "http" else "tcp"))
    elif context.logging:
        # `log global` of the defaults stays for the backends (server up/down messages).
        body.append("no log")
    body.extend(allowed_cidr_lines(listener.allowed_cidrs, context.vip))
    if protection is not None:
        # Before the header lines and the routing line: limits run before anything else.
        body.extend(protection.frontend)
    body.extend(_insert_header_lines(listener.insert_headers, mode, tls is not None))
    hsts = hsts_line(tls) if tls is not None else None
    if hsts is not None:
        body.append(hsts)
    l7 = l7_lines(listener.l7policies, context.pools, mode)
    body.extend(l7.requests)
    body.extend(_routing_lines(listener, mode, context.pools, l7))
    return [f"frontend {listener_id}", *(INDENT + line for line in body)]


def frontend_protection(listener: ListenerSpec, context: FrontendContext) -> ProtectionLines | None:
    """The listener's protection lines and table sections; None when it has no protection."""
    if listener.protection is None:
        return None
    protocol = v.member_of(ListenerProtocol, listener.protocol, "listener.protocol")
    http = protocol is ListenerProtocol.HTTP
    return render_protection(listener.id, listener.protection, http, context.vip.version)


def allowed_cidr_lines(value: object, vip: v.IPAddress) -> list[str]:
    """Octavia's allowed_cidrs: a source outside them is refused as its connection opens,
    before every other rule (protection's deny lists and limits included), on every protocol.
    The list says who may connect, so it is the peer's address that counts, also behind
    `accept-proxy`. No networks: everyone."""
    field = "listener.allowed_cidrs"
    networks = cidrs(value, field)
    if len(networks) > MAX_ALLOWED_CIDRS:
        raise RenderError(f"{field} holds more than {MAX_ALLOWED_CIDRS} networks")
    for network in networks:
        if ipaddress.ip_network(network).version != vip.version:
            # It could never match: the VIP's sockets only see peers of its own version.
            raise RenderError(f"{field}: {network} is not of the VIP's IP version")
    if not networks:
        return []
    reject = "tcp-request connection reject if !sy_allowed_cidrs"
    return [*network_acl("sy_allowed_cidrs", networks), reject]


def _maxconn(connection_limit: object, context: FrontendContext) -> int:
    """The frontend's maxconn; never above the global ceiling.

    -1 (and 0, as Octavia treats a falsy limit) means "unlimited", i.e. the deployment's
    per-listener default. Frontends may together promise more than the global maxconn; the
    global limit then queues new connections, which is what keeps the process within its
    file-descriptor budget.
    """
    limit = v.integer(connection_limit, "listener.connection_limit", -1, MAX_MS)
    if limit <= 0:
        limit = context.default_listener_maxconn
    return min(limit, context.max_connections)


def _insert_header_lines(headers: object, mode: str, terminated: bool) -> list[str]:
    """The lines of a listener's insert_headers; X-SSL-* ones need TLS termination."""
    known = {**_HEADER_LINES, **SSL_HEADER_LINES} if terminated else _HEADER_LINES
    if terminated:
        known["X-Forwarded-Proto"] = "http-request set-header X-Forwarded-Proto https"
    if not isinstance(headers, tuple | list):
        raise RenderError(f"listener.insert_headers must be pairs, got {v.describe(headers)}")
    wanted: dict[str, bool] = {}
    for pair in headers:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise RenderError(f"listener.insert_headers holds {v.describe(pair)}, not a pair")
        name, value = pair
        if not isinstance(name, str) or name not in known:
            raise RenderError(f"listener.insert_headers: unsupported header {v.describe(name)}")
        if name in wanted:
            raise RenderError(f"listener.insert_headers: {name} is given twice")
        if not isinstance(value, str) or value.lower() not in ("true", "false"):
            raise RenderError(f"listener.insert_headers: {name} must be 'true' or 'false'")
        wanted[name] = value.lower() == "true"
    if wanted and mode != "http":
        # Octavia refuses insert_headers on TCP listeners; a tcp frontend cannot add headers.
        raise RenderError("listener.insert_headers is only valid for HTTP listeners")
    return [line for name, line in known.items() if wanted.get(name, False)]


def _routing_lines(
    listener: ListenerSpec, mode: str, pools: dict[str, PoolSpec], l7: L7Lines
) -> list[str]:
    """The L7 policies' `use_backend`, then `default_backend`, or an explicit refusal of what
    no policy sent to a pool when the listener has no usable pool of its own (before the
    `use_backend`: HAProxy runs every `http-request` rule first anyway, and says so)."""
    pool_id = listener.default_pool_id
    pool = None
    if pool_id is not None:
        pool = pools.get(v.uuid(pool_id, "listener.default_pool_id"))
        if pool is None:
            raise RenderError(
                f"listener {listener.id} uses pool {pool_id}, which is not in the spec"
            )
        if mode == "http" and pool_mode(pool, (listener,)) != "http":
            # HAProxy refuses an http frontend in front of a tcp backend.
            raise RenderError(f"HTTP listener {listener.id} cannot use TCP pool {pool_id}")
        # A tcp frontend in front of an http backend is fine: HAProxy upgrades the stream.
    if pool is not None and v.boolean(pool.admin_state_up, "pool.admin_state_up"):
        return [*l7.backends, f"default_backend {pool.id}"]
    # No pool, or a disabled one (Octavia drops default_backend for disabled pools). Answer
    # explicitly instead of relying on HAProxy's "no backend" behaviour.
    if mode == "http":
        unrouted = f" if !{ROUTED}" if l7.routes_to_pools else ""
        return [f"http-request deny deny_status 503{unrouted}", *l7.backends]
    return ["tcp-request connection reject"]

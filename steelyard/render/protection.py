"""A listener's DDoS mitigation and rate limits as HAProxy 2.6 rules: pure, no I/O.

What a protected frontend gets (HTTP; a TCP listener gets the `tcp-request` part only):

    acl sy_deny / sy_allow / sy_proxy src <cidr> ...      chunked, normal form
    acl sy_max_conn sc0_conn_cur gt N, sy_conn_rate, sy_req_rate, sy_header_size, ...
    tcp-request <layer> reject if sy_deny                 1. deny lists, always first
    tcp-request <layer> track-sc0 src table st_<id> if !sy_allow [!sy_proxy]
                                                          2. allow = not tracked = no limit
    tcp-request <layer> reject | set-var(sess.sy_over)    3. connection limits
    http-request set-src hdr_ip(x-forwarded-for,-1) if sy_proxy, deny, track-sc0
    http-request deny 429 | tarpit | reject               4. marked connections, request rate
    http-request deny 431 / 413                           5. header and body size

and two table sections after the pools: `backend st_<id>` (one entry per source: conn_cur,
conn_rate, http_req_rate) and `backend sr_<id>` (one entry, key 0: a gpc array of rejections,
index = position in `REASONS`). Every rejection first tracks sr_<id> in sc1 and increments its
counter, so the agent reads the counts with `show table sr_<id>`. Tracking sc1 only when a rule
fires keeps the quiet path free of it, and each limit is evaluated once per connection or
request (see `_counted`).

Choices:
- <layer> is `tcp-request connection` (cheapest, before any session exists), or `tcp-request
  session` with `accept_proxy`: connection rules still see the proxy's address, session rules
  the address from the PROXY header.
- Connection limits are checked once, when the connection opens, and count once per connection.
  With action `reject` (and on every TCP listener, where 429 and tarpit cannot be expressed)
  the connection is refused there. With 429 or tarpit on HTTP the connection is only marked (a
  session variable) and every request on it is answered at the HTTP layer: an HTTP client gets
  a status it understands, and only the excess connections are answered so, not the source's
  earlier ones.
- `reject` on the HTTP layer is `http-request reject` (closed without an answer); `silent-drop`
  would leave state in every stateful box on the path.
- trusted_proxies: sources behind a trusted proxy are tracked at the HTTP layer after
  `set-src` takes the last X-Forwarded-For hop; the proxy itself is not tracked. HAProxy counts
  each HTTP-layer tracking as a connection of that source, and the limits checked at connection
  time never see them, so only the request rate (and deny lists, answered 403: rejecting the
  proxy's connection would fail its other clients' requests) apply to them. A trusted peer
  without a usable X-Forwarded-For counts as itself.
- Header size is `req.hdrs,length` (HAProxy 2.6 has no `req.hdrs_len`): the header lines with
  the final CRLF, without the request line. HAProxy itself refuses headers larger than
  bufsize - maxrewrite (15,360 bytes by default) with a 400 before any rule runs.
- Body size is the declared Content-Length only: chunked bodies (and HTTP/2 bodies without
  content-length) are not limited here.
- Slow clients are cut by `timeout http-request`; HAProxy answers 408 and counts it in the
  frontend's `ereq` (and `hrsp_4xx`) of `show stat`: no rule runs for it, so no sr_ counter.
"""

import ipaddress
from dataclasses import dataclass

from steelyard.model.protection import MAX_TABLE_SIZE
from steelyard.model.spec import ProtectionSpec
from steelyard.render import validate as v
from steelyard.render.errors import RenderError
from steelyard.render.haproxy_backend import INDENT

# gpc index of each rejection reason in the sr_<id> table; the agent reads them in this order.
REASONS = ("deny_cidr", "max_conn", "conn_rate", "req_rate", "header_size", "body_size")
ACTIONS = ("reject", "http_429", "tarpit")
# Fields that only mean something for HTTP listeners: refused on TCP listeners. Deployment
# defaults and operator overrides reach the renderer through model.listener_protection
# `for_protocol`, which drops them for TCP listeners.
HTTP_ONLY = (
    "req_rate_per_source",
    "http_request_timeout_ms",
    "max_header_bytes",
    "max_body_bytes",
    "trusted_proxies",
)
MAX_COUNT = 10_000_000
MAX_PERIOD_S = 3600
MAX_CIDRS = 10_000  # per list, after merging layers (each layer allows 1,000)
# HAProxy 2.6 reads at most 64 words per line; 16 networks keep lines short and readable.
_CIDRS_PER_LINE = 16
_MAX_CIDR_TEXT = 49  # "ffff:...:ffff/128" with an embedded IPv4 address
_CIDR_CHARS = frozenset("0123456789abcdefABCDEF.:/")


@dataclass(frozen=True)
class ProtectionLines:
    """What a protected listener adds to the config."""

    bind_options: tuple[str, ...]  # words appended to the `bind` line
    maxconn: int | None  # ceiling for the frontend's maxconn
    frontend: tuple[str, ...]  # lines of the frontend, before the header and routing lines
    tables: tuple[tuple[str, ...], ...]  # whole sections, header line first


@dataclass(frozen=True)
class _Checked:
    max_conn: int | None
    conn_rate: int | None
    conn_period: int
    req_rate: int | None
    req_period: int
    action: str
    retry_after: int
    tarpit: int
    request_timeout_ms: int | None
    max_header: int | None
    max_body: int | None
    deny: tuple[str, ...]
    allow: tuple[str, ...]
    max_connections: int | None
    trusted: tuple[str, ...]
    accept_proxy: bool
    table_size: int


def source_table(listener_id: str) -> str:
    return f"st_{v.uuid(listener_id, 'listener.id')}"


def reason_table(listener_id: str) -> str:
    return f"sr_{v.uuid(listener_id, 'listener.id')}"


def render_protection(
    listener_id: str, protection: object, http: bool, vip_version: int
) -> ProtectionLines:
    """The lines for one listener; raises RenderError for any value it cannot write."""
    if not isinstance(protection, ProtectionSpec):
        raise RenderError(
            f"listener.protection must be a ProtectionSpec, got {v.describe(protection)}"
        )
    p = _check(protection, http)
    tracked = p.max_conn is not None or p.conn_rate is not None or p.req_rate is not None
    counted = tracked or bool(p.deny) or p.max_header is not None or p.max_body is not None
    names = _Names(source_table(listener_id), reason_table(listener_id))
    layer = "tcp-request session" if p.accept_proxy else "tcp-request connection"
    lines = [*_timeouts(p, http), *_acls(p, http, tracked, counted)]
    lines += _tcp_rules(p, http, tracked, layer, names)
    if http:
        lines += _http_rules(p, tracked, names)
    tables: list[tuple[str, ...]] = []
    if tracked:
        tables.append(_source_table(p, http, vip_version, names.source))
    if counted:
        # Key 0 is the only entry; no expiry, so counts last until HAProxy restarts or reloads.
        store = f"stick-table type integer size 1 store gpc({len(REASONS)})"
        tables.append((f"backend {names.reasons}", INDENT + store))
    return ProtectionLines(
        bind_options=("accept-proxy",) if p.accept_proxy else (),
        maxconn=p.max_connections,
        frontend=tuple(lines),
        tables=tuple(tables),
    )


@dataclass(frozen=True)
class _Names:
    source: str
    reasons: str


def _check(p: ProtectionSpec, http: bool) -> _Checked:
    f = "listener.protection."
    action = p.action
    if not isinstance(action, str) or action not in ACTIONS:
        raise RenderError(
            f"{f}action must be one of {', '.join(ACTIONS)}, got {v.describe(action)}"
        )
    if not http:
        for name in HTTP_ONLY:
            value = getattr(p, name)
            if value is not None and value != ():
                raise RenderError(f"{f}{name} is only valid for HTTP listeners")
        # A TCP stream cannot be answered 429 or tarpitted: refusing it is all there is.
        action = "reject"
    return _Checked(
        max_conn=_count(p.max_conn_per_source, f + "max_conn_per_source"),
        conn_rate=_count(p.conn_rate_per_source, f + "conn_rate_per_source"),
        conn_period=v.integer(p.conn_rate_period_s, f + "conn_rate_period_s", 1, MAX_PERIOD_S),
        req_rate=_count(p.req_rate_per_source, f + "req_rate_per_source"),
        req_period=v.integer(p.req_rate_period_s, f + "req_rate_period_s", 1, MAX_PERIOD_S),
        action=action,
        retry_after=v.integer(p.retry_after_s, f + "retry_after_s", 1, 86_400),
        tarpit=v.integer(p.tarpit_s, f + "tarpit_s", 1, 60),
        request_timeout_ms=_optional(
            p.http_request_timeout_ms, f + "http_request_timeout_ms", 100, 3_600_000
        ),
        max_header=_optional(p.max_header_bytes, f + "max_header_bytes", 256, 2**30),
        max_body=_optional(p.max_body_bytes, f + "max_body_bytes", 256, 2**30),
        deny=cidrs(p.deny_cidrs, f + "deny_cidrs"),
        allow=cidrs(p.allow_cidrs, f + "allow_cidrs"),
        max_connections=_count(p.max_connections, f + "max_connections"),
        trusted=cidrs(p.trusted_proxies, f + "trusted_proxies"),
        accept_proxy=v.boolean(p.accept_proxy, f + "accept_proxy"),
        table_size=v.integer(p.table_size, f + "table_size", 1000, MAX_TABLE_SIZE),
    )


def _count(value: object, field: str) -> int | None:
    return _optional(value, field, 1, MAX_COUNT)


def _optional(value: object, field: str, low: int, high: int) -> int | None:
    return None if value is None else v.integer(value, field, low, high)


def cidrs(value: object, field: str) -> tuple[str, ...]:
    """Networks in normal form (`ipaddress`), duplicates dropped, order kept.

    Characters are checked before parsing: `ipaddress` accepts IPv6 zone ids (`%eth0`) and
    would happily parse text that HAProxy reads differently. Host bits must be zero, as in the
    API, so that what is written is what was asked for.
    """
    if not isinstance(value, tuple | list):
        raise RenderError(f"{field} must be a list of networks, got {v.describe(value)}")
    if len(value) > MAX_CIDRS:
        raise RenderError(f"{field} holds more than {MAX_CIDRS} networks")
    seen: dict[str, None] = {}
    for item in value:
        if (
            not isinstance(item, str)
            or not 3 <= len(item) <= _MAX_CIDR_TEXT
            or not set(item) <= _CIDR_CHARS
            or item.count("/") != 1
        ):
            raise RenderError(
                f"{field} must hold networks like 192.0.2.0/24, got {v.describe(item)}"
            )
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise RenderError(f"{field}: {v.describe(item)} is not a network") from None
        seen[str(network)] = None
    return tuple(seen)


def _timeouts(p: _Checked, http: bool) -> list[str]:
    lines = []
    if p.request_timeout_ms is not None:
        # Whole request headers within this time (slowloris); HAProxy answers 408.
        lines.append(f"timeout http-request {p.request_timeout_ms}ms")
    if http and p.action == "tarpit" and _has_limits(p):
        lines.append(f"timeout tarpit {p.tarpit}s")
    return lines


def _has_limits(p: _Checked) -> bool:
    return p.max_conn is not None or p.conn_rate is not None or p.req_rate is not None


def _acls(p: _Checked, http: bool, tracked: bool, counted: bool) -> list[str]:
    lines = ["acl sy_counted sc1_tracked"] if counted else []
    lines += network_acl("sy_deny", p.deny)
    if tracked:
        lines += network_acl("sy_allow", p.allow)
    lines += network_acl("sy_proxy", p.trusted)
    if p.max_conn is not None:
        lines.append(f"acl sy_max_conn sc0_conn_cur gt {p.max_conn}")
    if p.conn_rate is not None:
        lines.append(f"acl sy_conn_rate sc0_conn_rate gt {p.conn_rate}")
    if _marks_connections(p, http):
        lines.append("acl sy_over var(sess.sy_over) -m found")
        for reason in _connection_reasons(p):
            lines.append(f"acl sy_over_{reason} var(sess.sy_over) -m int {REASONS.index(reason)}")
    if p.req_rate is not None:
        lines.append(f"acl sy_req_rate sc0_http_req_rate gt {p.req_rate}")
    if p.max_header is not None:
        lines.append(f"acl sy_header_size req.hdrs,length gt {p.max_header}")
    if p.max_body is not None:
        lines.append(f"acl sy_body_size req.hdr_val(content-length) gt {p.max_body}")
    return lines


def network_acl(name: str, networks: tuple[str, ...]) -> list[str]:
    """`acl <name> src <networks>` for networks checked by `cidrs`, over as many lines as
    needed: several lines with the same name add up to one ACL (HAProxy ORs their patterns)."""
    return [
        f"acl {name} src {' '.join(networks[i : i + _CIDRS_PER_LINE])}"
        for i in range(0, len(networks), _CIDRS_PER_LINE)
    ]


def _connection_reasons(p: _Checked) -> list[str]:
    reasons = []
    if p.max_conn is not None:
        reasons.append("max_conn")
    if p.conn_rate is not None:
        reasons.append("conn_rate")
    return reasons


def _marks_connections(p: _Checked, http: bool) -> bool:
    """True when connection limits are answered at the HTTP layer (429 or tarpit)."""
    return http and p.action != "reject" and bool(_connection_reasons(p))


def _counted(prefix: str, reason: str, condition: str, action: str, names: _Names) -> list[str]:
    """Count a rejection in sr_<id>, then act: track key 0 in sc1, increment, act.

    The quiet path pays for one evaluation of `condition` (a table read, a header
    serialisation, a tree lookup), one no-op increment and one test of `sy_counted` (is sc1
    tracked). That is exact because sc1 is only ever tracked by the first rule of the reason
    being handled: every action here ends rule processing, a connection refused at the TCP layer
    has no HTTP layer, and a connection marked over a connection limit is answered by the first
    HTTP rule (`_marks`).
    """
    index = REASONS.index(reason)
    return [
        f"{prefix} track-sc1 int(0) table {names.reasons} if {condition}",
        f"{prefix} sc-inc-gpc({index},1)",  # a no-op unless sc1 is tracked
        f"{prefix} {action} if sy_counted",
    ]


def _marks(layer: str, reasons: list[str], names: _Names) -> list[str]:
    """Connection limits answered at the HTTP layer: mark the connection with the first reason
    over its limit and count it there, once per connection (as `reject` counts refusals); the
    HTTP layer then tests one variable per request."""
    lines = [f"{layer} set-var(sess.sy_over) int({REASONS.index(reasons[0])}) if sy_{reasons[0]}"]
    for reason in reasons[1:]:
        index = REASONS.index(reason)
        lines.append(f"{layer} set-var(sess.sy_over) int({index}) if sy_{reason} !sy_over")
    lines.append(f"{layer} track-sc1 int(0) table {names.reasons} if sy_over")
    lines += [
        f"{layer} sc-inc-gpc({REASONS.index(reason)},1) if sy_over_{reason}" for reason in reasons
    ]
    return lines


def _tcp_rules(p: _Checked, http: bool, tracked: bool, layer: str, names: _Names) -> list[str]:
    lines = []
    if p.deny:
        lines += _counted(layer, "deny_cidr", "sy_deny", "reject", names)
    if not tracked:
        return lines
    exempt = [*(["!sy_allow"] if p.allow else []), *(["!sy_proxy"] if http and p.trusted else [])]
    track = f"{layer} track-sc0 src table {names.source}"
    lines.append(f"{track} if {' '.join(exempt)}" if exempt else track)
    reasons = _connection_reasons(p)
    if _marks_connections(p, http):
        lines += _marks(layer, reasons, names)
    else:
        for reason in reasons:
            lines += _counted(layer, reason, f"sy_{reason}", "reject", names)
    return lines


def _http_rules(p: _Checked, tracked: bool, names: _Names) -> list[str]:
    h = "http-request"
    limited = _action(p)
    lines = []
    if _marks_connections(p, http=True):
        lines.append(f"{h} {limited} if sy_over")  # first: see `_counted`
    if p.trusted:
        lines.append(f"{h} set-src hdr_ip(x-forwarded-for,-1) if sy_proxy")
        if p.deny:
            lines += _counted(h, "deny_cidr", "sy_deny", "deny deny_status 403", names)
        if tracked:
            track = f"{h} track-sc0 src table {names.source}"
            lines.append(f"{track} if !sy_allow" if p.allow else track)
    if p.req_rate is not None:
        lines += _counted(h, "req_rate", "sy_req_rate", limited, names)
    if p.max_header is not None:
        # 431 has no built-in error page in HAProxy 2.6: give a short body of our own.
        too_large = (
            "deny deny_status 431 content-type text/plain string request-header-fields-too-large"
        )
        lines += _counted(h, "header_size", "sy_header_size", too_large, names)
    if p.max_body is not None:
        lines += _counted(h, "body_size", "sy_body_size", "deny deny_status 413", names)
    return lines


def _action(p: _Checked) -> str:
    """What an HTTP request over a per-source limit gets."""
    retry = f"deny_status 429 hdr Retry-After {p.retry_after}"
    if p.action == "http_429":
        return f"deny {retry}"
    if p.action == "tarpit":
        # Held for `timeout tarpit`, then answered 429 like the http_429 action.
        return f"tarpit {retry}"
    return "reject"


def _source_table(p: _Checked, http: bool, vip_version: int, name: str) -> tuple[str, ...]:
    """One entry per source. `type ipv6` also holds IPv4 sources (as ::ffff:a.b.c.d); it is
    needed whenever a source may be IPv6: an IPv6 VIP, a PROXY header, or X-Forwarded-For.
    An IPv6 source in a `type ip` table would not be tracked at all, i.e. never limited."""
    may_be_v6 = vip_version == 6 or p.accept_proxy or bool(p.trusted)
    store = [f"conn_cur,conn_rate({p.conn_period}s)"]
    periods = [p.conn_period]
    if http:
        store.append(f"http_req_rate({p.req_period}s)")
        periods.append(p.req_period)
    # Entries live as long as the longest period: a source idle that long starts afresh.
    table = (
        f"stick-table type {'ipv6' if may_be_v6 else 'ip'} size {p.table_size} "
        f"expire {max(periods)}s store {','.join(store)}"
    )
    return (f"backend {name}", INDENT + table)

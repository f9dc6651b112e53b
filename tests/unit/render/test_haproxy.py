"""Behaviour of render_haproxy beyond the golden files: contracts, limits and refusals."""

import re
from dataclasses import replace
from typing import Any

import pytest

from steelyard.model.enums import (
    HealthMonitorType,
    LBAlgorithm,
    ListenerProtocol,
    PoolProtocol,
    SessionPersistenceType,
)
from steelyard.model.spec import (
    HealthMonitorSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    RenderSettings,
    RuntimePaths,
    SessionPersistenceSpec,
)
from steelyard.render import haproxy
from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from tests.unit.render.fixtures import HTTP_POOL, TCP_POOL, full_settings, full_spec
from tests.unit.render.test_haproxy_golden import GOLDEN_DIR

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The server line contract the runtime diff parses, token by token.
SERVER_LINE = re.compile(
    rf"    server (?P<id>{UUID}) (?P<addr>[0-9.]+|\[[0-9a-f:.]+\]):(?P<port>[0-9]+)"
    r" weight (?P<weight>[0-9]+)( backup)?( disabled)?"
    r"( check inter [0-9]+s fall [0-9]+ rise [0-9]+"
    r"( addr ([0-9.]+|\[[0-9a-f:.]+\]))?( port [0-9]+)?)?"
    rf"( check-ssl( verify none)?)?( cookie {UUID})?"
    r"( send-proxy(-v2)?( check-send-proxy)?)?"
    # re-encryption (haproxy_tls.server_tokens)
    r"( ssl verify (none|required ca-file /\S+\.pem( crl-file /\S+\.pem)?)( crt /\S+\.pem)?"
    r" ssl-min-ver \S+ ssl-max-ver \S+( ciphers \S+)?( ciphersuites \S+)?( alpn \S+)?)?"
)


def _settings(**changes: Any) -> RenderSettings:
    return replace(full_settings(), **changes)


def _spec(**changes: Any) -> LoadBalancerSpec:
    return replace(full_spec(), **changes)


def _with_listener(index: int, **changes: Any) -> LoadBalancerSpec:
    spec = full_spec()
    listeners = list(spec.listeners)
    listeners[index] = replace(listeners[index], **changes)
    return replace(spec, listeners=tuple(listeners))


def _with_pool(index: int, **changes: Any) -> LoadBalancerSpec:
    spec = full_spec()
    pools = list(spec.pools)
    pools[index] = replace(pools[index], **changes)
    return replace(spec, pools=tuple(pools))


def _http_monitor() -> HealthMonitorSpec:
    monitor = full_spec().pools[0].healthmonitor
    assert monitor is not None
    return monitor


def _section(config: str, header: str) -> list[str]:
    lines = config.split("\n")
    start = lines.index(header)
    end = lines.index("", start)
    return lines[start + 1 : end]


def test_every_golden_server_line_follows_the_contract() -> None:
    count = 0
    for path in sorted(GOLDEN_DIR.glob("*.cfg")):
        for line in path.read_text().splitlines():
            if line.startswith("    server "):
                assert SERVER_LINE.fullmatch(line), f"{path.name}: {line}"
                count += 1
    assert count > 30


def test_output_is_deterministic_and_order_independent() -> None:
    spec = full_spec()
    shuffled = replace(
        spec,
        listeners=spec.listeners[::-1],
        pools=tuple(replace(pool, members=pool.members[::-1]) for pool in spec.pools[::-1]),
    )
    first = render_haproxy(spec, full_settings())
    assert render_haproxy(spec, full_settings()) == first
    assert render_haproxy(shuffled, full_settings()) == first


def test_names_are_the_ids_in_port_then_id_order() -> None:
    config = render_haproxy(full_spec(), full_settings())
    headers = [line for line in config.splitlines() if line and not line.startswith((" ", "#"))]
    assert headers == [
        "global",
        "defaults",
        "frontend a0000000-0000-4000-8000-000000000001",  # port 80
        "frontend a0000000-0000-4000-8000-000000000002",  # port 5432
        f"backend {HTTP_POOL}",
        f"backend {TCP_POOL}",
    ]


def test_global_section() -> None:
    settings = _settings(max_connections=9000, nbthread=8, hard_stop_after_s=90)
    config = render_haproxy(full_spec(), settings)
    assert _section(config, "global") == [
        "    maxconn 9000",
        "    nbthread 8",
        "    hard-stop-after 90s",
        "    stats socket /run/sy/a/stats.sock mode 600 level admin expose-fd listeners",
        "    server-state-file /run/sy/a/server-state",
        "    log /run/sy/a/log.sock len 4096 format rfc5424 local0",
    ]
    assert "    load-server-state-from-file global" in _section(config, "defaults")


def test_no_log_lines_without_a_log_socket() -> None:
    settings = _settings(paths=RuntimePaths("/run/sy/a/stats.sock", "/run/sy/a/server-state"))
    config = render_haproxy(full_spec(), settings)
    assert "log" not in re.findall(r"\blog\b", config)
    assert "log-format" not in config and "dontlognull" not in config


def test_extra_settings_are_never_rendered() -> None:
    settings = _settings(extra={"global": "\n    stats socket /tmp/evil level admin"})
    assert "evil" not in render_haproxy(full_spec(), settings)


@pytest.mark.parametrize(
    ("limit", "default", "ceiling", "expected"),
    [
        (1000, 5000, 5000, 1000),
        (-1, 4000, 5000, 4000),
        (0, 4000, 5000, 4000),
        (9000, 5000, 6000, 6000),
        (-1, 8000, 6000, 6000),
    ],
)
def test_listener_maxconn(limit: int, default: int, ceiling: int, expected: int) -> None:
    spec = _with_listener(0, connection_limit=limit)
    settings = _settings(default_listener_maxconn=default, max_connections=ceiling)
    config = render_haproxy(spec, settings)
    frontend = _section(config, "frontend a0000000-0000-4000-8000-000000000001")
    assert f"    maxconn {expected}" in frontend
    assert _section(config, "global")[0] == f"    maxconn {ceiling}"


def test_connection_limit_below_minus_one_is_refused() -> None:
    with pytest.raises(RenderError, match="connection_limit"):
        render_haproxy(_with_listener(0, connection_limit=-2), full_settings())


def test_shared_pool_takes_the_largest_member_timeouts() -> None:
    spec = full_spec()
    second = replace(
        spec.listeners[1],
        protocol=ListenerProtocol.HTTP,
        default_pool_id=HTTP_POOL,
        timeout_member_connect=7000,
        timeout_member_data=1000,
    )
    first = replace(spec.listeners[0], timeout_member_connect=3000, timeout_member_data=90000)
    config = render_haproxy(replace(spec, listeners=(first, second)), full_settings())
    backend = _section(config, f"backend {HTTP_POOL}")
    assert "    timeout connect 7000ms" in backend
    assert "    timeout server 90000ms" in backend
    # The TCP pool is now unused: Octavia's defaults, and still rendered for its checks.
    unused = _section(config, f"backend {TCP_POOL}")
    assert "    timeout connect 5000ms" in unused
    assert any(line.startswith("    server ") and " check " in line for line in unused)


def test_tcp_inspect_delay_only_when_positive() -> None:
    config = render_haproxy(_with_listener(0, timeout_tcp_inspect=0), full_settings())
    assert "inspect-delay" not in config


@pytest.mark.parametrize(
    "headers",
    [
        (("X-Forwarded-For", "true"), ("X-Forwarded-For", "false")),
        (("X-Forwarded-For", "yes"),),
        (("x-forwarded-for", "true"),),
        (("X-SSL-Client-Verify", "true"),),
        (("X-Forwarded-For",),),
        "X-Forwarded-For",
    ],
)
def test_bad_insert_headers_are_refused(headers: Any) -> None:
    with pytest.raises(RenderError, match="insert_headers"):
        render_haproxy(_with_listener(0, insert_headers=headers), full_settings())


def test_insert_headers_on_tcp_listener_are_refused() -> None:
    spec = _with_listener(1, insert_headers=(("X-Forwarded-For", "true"),))
    with pytest.raises(RenderError, match="only valid for HTTP listeners"):
        render_haproxy(spec, full_settings())


def test_disabled_pool_is_not_routed_to() -> None:
    config = render_haproxy(_with_pool(0, admin_state_up=False), full_settings())
    frontend = _section(config, "frontend a0000000-0000-4000-8000-000000000001")
    assert "    http-request deny deny_status 503" in frontend
    assert not any("default_backend" in line for line in frontend)
    assert _section(config, f"backend {HTTP_POOL}")[0] == "    disabled"


@pytest.mark.parametrize(
    "listeners",
    [
        # the same id twice
        lambda s: (s.listeners[0], replace(s.listeners[1], id=s.listeners[0].id)),
        # a listener id equal to a pool id
        lambda s: (s.listeners[0], replace(s.listeners[1], id=TCP_POOL)),
        # the same id in another case
        lambda s: (s.listeners[0], replace(s.listeners[1], id=s.listeners[0].id.upper())),
    ],
)
def test_duplicate_ids_are_refused(listeners: Any) -> None:
    spec = full_spec()
    with pytest.raises(RenderError, match="used twice"):
        render_haproxy(replace(spec, listeners=listeners(spec)), full_settings())


def test_member_in_two_pools_is_refused() -> None:
    spec = full_spec()
    member = spec.pools[0].members[0]
    pools = (spec.pools[0], replace(spec.pools[1], members=(member,)))
    with pytest.raises(RenderError, match="used twice"):
        render_haproxy(replace(spec, pools=pools), full_settings())


def test_app_cookie_needs_a_name() -> None:
    persistence = SessionPersistenceSpec(type=SessionPersistenceType.APP_COOKIE)
    with pytest.raises(RenderError, match="cookie_name"):
        render_haproxy(_with_pool(0, session_persistence=persistence), full_settings())


def test_granularity_must_match_the_vip_family() -> None:
    persistence = SessionPersistenceSpec(
        type=SessionPersistenceType.SOURCE_IP, persistence_granularity="ffff:ffff::"
    )
    with pytest.raises(RenderError, match="IPv4 netmask"):
        render_haproxy(_with_pool(1, session_persistence=persistence), full_settings())


def test_full_granularity_sticks_on_the_whole_address() -> None:
    persistence = SessionPersistenceSpec(
        type=SessionPersistenceType.SOURCE_IP, persistence_granularity="255.255.255.255"
    )
    config = render_haproxy(_with_pool(1, session_persistence=persistence), full_settings())
    backend = _section(config, f"backend {TCP_POOL}")
    assert "    stick-table type ip size 10k expire 360s" in backend
    assert "    stick on src" in backend


# (An int 1 equals 1.0 and renders HTTP/1.0, a constant: harmless, so it is not refused.)
@pytest.mark.parametrize("version", [2.0, 1.2, True, "1.1", float("nan")])
def test_http_version_must_be_1_0_or_1_1(version: Any) -> None:
    monitor = replace(_http_monitor(), http_version=version)
    with pytest.raises(RenderError, match="http_version"):
        render_haproxy(_with_pool(0, healthmonitor=monitor), full_settings())


def test_disabled_monitor_is_still_validated() -> None:
    monitor = replace(_http_monitor(), admin_state_up=False, url_path="no slash")
    with pytest.raises(RenderError, match="url_path"):
        render_haproxy(_with_pool(0, healthmonitor=monitor), full_settings())


def test_disabled_monitor_renders_no_checks() -> None:
    monitor = replace(_http_monitor(), admin_state_up=False)
    config = render_haproxy(_with_pool(0, healthmonitor=monitor), full_settings())
    backend = _section(config, f"backend {HTTP_POOL}")
    assert not any("check" in line for line in backend)
    assert not any(" addr " in line or " port " in line for line in backend)


def test_tcp_monitor_ignores_http_fields() -> None:
    monitor = HealthMonitorSpec(
        id="d0000000-0000-4000-8000-000000000009",
        type=HealthMonitorType.TCP,
        delay=1,
        timeout=1,
        max_retries=1,
        max_retries_down=1,
        url_path="unused",
    )
    config = render_haproxy(_with_pool(1, healthmonitor=monitor), full_settings())
    assert "unused" not in config


def test_http_listener_on_tcp_pool_is_refused() -> None:
    with pytest.raises(RenderError, match="cannot use TCP pool"):
        render_haproxy(_with_listener(0, default_pool_id=TCP_POOL), full_settings())


@pytest.mark.parametrize(
    "members",
    [("not a member",), "c0000000-0000-4000-8000-000000000001", None],
)
def test_members_must_be_member_specs(members: Any) -> None:
    with pytest.raises(RenderError, match=r"pool\.members"):
        render_haproxy(_with_pool(0, members=members), full_settings())


@pytest.mark.parametrize(
    ("field", "value"),
    [("listeners", ("x",)), ("pools", ("x",)), ("listeners", None), ("pools", "abc")],
)
def test_children_must_be_specs(field: str, value: Any) -> None:
    with pytest.raises(RenderError, match=rf"loadbalancer\.{field}"):
        render_haproxy(_spec(**{field: value}), full_settings())


def test_wrong_argument_types_are_refused() -> None:
    with pytest.raises(RenderError):
        render_haproxy(full_settings(), full_spec())  # type: ignore[arg-type]


def test_settings_are_validated() -> None:
    long_socket = RuntimePaths("/" + "s" * 120, "/run/sy/a/server-state")
    for settings in (
        _settings(nbthread=0),
        _settings(nbthread=65),
        _settings(max_connections=0),
        _settings(hard_stop_after_s=0),
        _settings(paths=long_socket),
        _settings(paths=RuntimePaths("stats.sock", "/run/sy/a/server-state")),
    ):
        with pytest.raises(RenderError):
            render_haproxy(full_spec(), settings)


def test_source_ip_port_hashes_on_address_and_port() -> None:
    config = render_haproxy(_with_pool(1, lb_algorithm=LBAlgorithm.SOURCE_IP_PORT), full_settings())
    backend = _section(config, f"backend {TCP_POOL}")
    assert backend[1:3] == [
        "    tcp-request content set-var(txn.sy_src_port) src_port",
        "    balance hash src,concat(:,txn.sy_src_port)",
    ]


def test_ipv6_vip_binds_in_brackets_and_uses_an_ipv6_table() -> None:
    spec = replace(full_spec(), vip_address="fd00:5e::10")
    pools = list(spec.pools)
    pools[1] = replace(
        pools[1], session_persistence=SessionPersistenceSpec(SessionPersistenceType.SOURCE_IP)
    )
    config = render_haproxy(replace(spec, pools=tuple(pools)), full_settings())
    assert "    bind [fd00:5e::10]:80" in config
    assert "    stick-table type ipv6 size 10k expire 360s" in config


def test_line_check_catches_what_a_validator_missed() -> None:
    with pytest.raises(RenderError, match="outside the allow-list"):
        haproxy._check_lines([["backend x", "    server a\n    server b"]])
    with pytest.raises(RenderError):
        haproxy._check_lines([["global", '    log "x"']])
    haproxy._check_lines([["global", "    maxconn 1"]])


def test_minimal_pool_and_listener_defaults() -> None:
    pool = PoolSpec(
        id="b0000000-0000-4000-8000-0000000000aa",
        protocol=PoolProtocol.TCP,
        lb_algorithm=LBAlgorithm.ROUND_ROBIN,
        members=(
            MemberSpec(
                id="c0000000-0000-4000-8000-0000000000aa", address="198.18.1.9", protocol_port=1
            ),
        ),
    )
    listener = ListenerSpec(
        id="a0000000-0000-4000-8000-0000000000aa",
        protocol=ListenerProtocol.TCP,
        protocol_port=65535,
        default_pool_id=pool.id,
    )
    spec = LoadBalancerSpec(
        id="0b000000-0000-4000-8000-0000000000aa",
        vip_address="198.18.0.9",
        listeners=(listener,),
        pools=(pool,),
    )
    config = render_haproxy(spec, full_settings())
    assert "    server c0000000-0000-4000-8000-0000000000aa 198.18.1.9:1 weight 1" in config
    assert config.endswith("weight 1\n")

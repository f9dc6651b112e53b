"""Protection rules beyond the golden files: what is rendered when, and what is refused."""

from dataclasses import replace
from typing import Any

import pytest

from steelyard.agent.contract import REJECTION_REASONS
from steelyard.model.enums import ListenerProtocol
from steelyard.model.listener_protection import for_protocol
from steelyard.model.protection import UNDER_ATTACK, effective_protection
from steelyard.model.spec import ListenerSpec, LoadBalancerSpec, ProtectionSpec
from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from steelyard.render.protection import (
    HTTP_ONLY,
    MAX_CIDRS,
    REASONS,
    cidrs,
    render_protection,
)
from tests.unit.render.fixtures import full_settings, full_spec, structure

HTTP_ID = "a0000000-0000-4000-8000-000000000001"
TCP_ID = "a0000000-0000-4000-8000-000000000002"
LIMITS = ProtectionSpec(max_conn_per_source=5, conn_rate_per_source=10, req_rate_per_source=20)


def _protect(http: ProtectionSpec | None, tcp: ProtectionSpec | None = None) -> LoadBalancerSpec:
    spec = full_spec()
    first, second = spec.listeners
    listeners = (replace(first, protection=http), replace(second, protection=tcp))
    return replace(spec, listeners=listeners)


def _render(spec: LoadBalancerSpec) -> str:
    return render_haproxy(spec, full_settings())


def _frontend(config: str, listener_id: str = HTTP_ID) -> list[str]:
    section = config.split(f"frontend {listener_id}\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in section.splitlines()]


def _action_for(lines: tuple[str, ...] | list[str], condition: str) -> str:
    """The action taken when `condition` holds: two lines after the rule that counts it."""
    lines = list(lines)
    [first] = [
        i
        for i, line in enumerate(lines)
        if " track-sc1 " in line and line.endswith(f" if {condition}")
    ]
    return lines[first + 2]


def test_reasons_match_the_agent_contract() -> None:
    # The gpc index of a reason is how the agent names what it reads: both sides must agree.
    assert REASONS == REJECTION_REASONS


def test_nothing_limited_renders_as_unprotected() -> None:
    unprotected = _render(_protect(None))
    assert _render(_protect(ProtectionSpec(), ProtectionSpec())) == unprotected
    assert "backend st_" not in unprotected and "backend sr_" not in unprotected


def test_an_unprotected_listener_is_unchanged_beside_a_protected_one() -> None:
    plain = _frontend(_render(_protect(None)), TCP_ID)
    assert _frontend(_render(_protect(LIMITS)), TCP_ID) == plain


def test_tables_follow_the_pools_in_listener_order() -> None:
    config = _render(_protect(LIMITS, ProtectionSpec(max_conn_per_source=3)))
    headers = [header for header, _ in structure(config)]
    assert headers[-4:] == [
        f"backend st_{HTTP_ID}",
        f"backend sr_{HTTP_ID}",
        f"backend st_{TCP_ID}",
        f"backend sr_{TCP_ID}",
    ]


@pytest.mark.parametrize(
    ("vip", "changes", "table_type"),
    [
        ("198.18.0.10", {}, "ip"),
        ("fd00:12::10", {}, "ipv6"),
        ("198.18.0.10", {"accept_proxy": True}, "ipv6"),
        ("198.18.0.10", {"trusted_proxies": ("10.0.0.0/8",)}, "ipv6"),
    ],
)
def test_source_table_type_holds_every_possible_source(
    vip: str, changes: dict[str, Any], table_type: str
) -> None:
    lines = render_protection(HTTP_ID, replace(LIMITS, **changes), True, 6 if ":" in vip else 4)
    assert lines.tables[0][1].startswith(f"    stick-table type {table_type} size 1000000 ")


def test_table_expires_after_the_longest_period() -> None:
    spec = replace(LIMITS, conn_rate_period_s=7, req_rate_period_s=60, table_size=5000)
    table = render_protection(HTTP_ID, spec, True, 4).tables[0][1]
    assert table.endswith("size 5000 expire 60s store conn_cur,conn_rate(7s),http_req_rate(60s)")
    tcp = replace(spec, req_rate_per_source=None)
    tcp_table = render_protection(TCP_ID, tcp, False, 4).tables[0][1]
    assert tcp_table.endswith("expire 7s store conn_cur,conn_rate(7s)")


@pytest.mark.parametrize("action", ["http_429", "tarpit", "reject"])
def test_tcp_listeners_always_reject(action: str) -> None:
    spec = ProtectionSpec(max_conn_per_source=5, action=action)
    lines = render_protection(TCP_ID, spec, False, 4).frontend
    assert _action_for(lines, "sy_max_conn") == "tcp-request connection reject if sy_counted"
    assert not any("http-request" in line or "tarpit" in line for line in lines)


def test_http_429_and_tarpit_answer_connection_limits_at_the_http_layer() -> None:
    for action, verb in (("http_429", "deny"), ("tarpit", "tarpit")):
        lines = list(render_protection(HTTP_ID, replace(LIMITS, action=action), True, 4).frontend)
        marks = lines.index("tcp-request connection set-var(sess.sy_over) int(1) if sy_max_conn")
        assert lines[marks : marks + 5] == [
            "tcp-request connection set-var(sess.sy_over) int(1) if sy_max_conn",
            "tcp-request connection set-var(sess.sy_over) int(2) if sy_conn_rate !sy_over",
            f"tcp-request connection track-sc1 int(0) table sr_{HTTP_ID} if sy_over",
            "tcp-request connection sc-inc-gpc(1,1) if sy_over_max_conn",
            "tcp-request connection sc-inc-gpc(2,1) if sy_over_conn_rate",
        ]
        # The first HTTP rule answers every request of a marked connection.
        first_http = next(line for line in lines if line.startswith("http-request"))
        assert first_http == f"http-request {verb} deny_status 429 hdr Retry-After 10 if sy_over"
        assert not any(" reject " in line for line in lines)
    tarpit = render_protection(HTTP_ID, replace(LIMITS, action="tarpit", tarpit_s=4), True, 4)
    assert "timeout tarpit 4s" in tarpit.frontend


def test_every_rejection_is_counted_before_it_happens() -> None:
    spec = replace(
        LIMITS,
        action="reject",
        deny_cidrs=("192.0.2.0/24",),
        max_header_bytes=1024,
        max_body_bytes=4096,
    )
    lines = list(render_protection(HTTP_ID, spec, True, 4).frontend)
    actions = [i for i, line in enumerate(lines) if " reject if " in line or " deny " in line]
    assert len(actions) == len(REASONS)
    for i in actions:
        layer = lines[i].split(" reject ")[0].split(" deny ")[0]
        assert lines[i].endswith(" if sy_counted")
        assert lines[i - 2].startswith(f"{layer} track-sc1 int(0) table sr_{HTTP_ID} if sy_")
        assert lines[i - 1].startswith(f"{layer} sc-inc-gpc(")
        assert lines[i - 1].endswith(",1)")  # a no-op unless the rule before tracked sc1
    assert "acl sy_counted sc1_tracked" in lines
    indexes = sorted(
        int(line.split("sc-inc-gpc(")[1].split(",")[0]) for line in lines if "gpc(" in line
    )
    assert indexes == list(range(len(REASONS)))


def test_deny_comes_first_and_allow_exempts_only_from_tracking() -> None:
    spec = replace(LIMITS, deny_cidrs=("192.0.2.0/24",), allow_cidrs=("198.51.100.0/24",))
    lines = list(render_protection(HTTP_ID, spec, True, 4).frontend)
    rules = [line for line in lines if not line.startswith(("acl", "timeout"))]
    assert rules[:3] == [
        f"tcp-request connection track-sc1 int(0) table sr_{HTTP_ID} if sy_deny",
        "tcp-request connection sc-inc-gpc(0,1)",
        "tcp-request connection reject if sy_counted",
    ]
    assert rules[3].endswith("track-sc0 src table st_" + HTTP_ID + " if !sy_allow")
    assert sum("sy_allow" in line for line in lines) == 2  # the acl and the tracking rule


def test_allow_list_without_limits_is_not_rendered() -> None:
    spec = ProtectionSpec(allow_cidrs=("198.51.100.0/24",), max_header_bytes=1024)
    lines = render_protection(HTTP_ID, spec, True, 4)
    assert not any("sy_allow" in line for line in lines.frontend)
    assert [table[0] for table in lines.tables] == [f"backend sr_{HTTP_ID}"]


def test_trusted_proxies_take_the_last_hop_only_from_trusted_peers() -> None:
    spec = replace(LIMITS, trusted_proxies=("10.0.0.0/8",), deny_cidrs=("192.0.2.0/24",))
    lines = list(render_protection(HTTP_ID, spec, True, 4).frontend)
    assert "acl sy_proxy src 10.0.0.0/8" in lines
    set_src = lines.index("http-request set-src hdr_ip(x-forwarded-for,-1) if sy_proxy")
    assert lines[set_src + 1].endswith(" if sy_deny")
    assert lines[set_src + 3] == "http-request deny deny_status 403 if sy_counted"
    assert lines[set_src + 4] == f"http-request track-sc0 src table st_{HTTP_ID}"
    # The proxies themselves are not tracked at the connection.
    assert f"tcp-request connection track-sc0 src table st_{HTTP_ID} if !sy_proxy" in lines


def test_accept_proxy_moves_source_rules_to_the_session() -> None:
    spec = replace(LIMITS, accept_proxy=True, deny_cidrs=("192.0.2.0/24",), action="reject")
    lines = render_protection(HTTP_ID, spec, True, 4)
    assert lines.bind_options == ("accept-proxy",)
    assert not any(line.startswith("tcp-request connection") for line in lines.frontend)
    assert _action_for(lines.frontend, "sy_deny") == "tcp-request session reject if sy_counted"


def test_max_connections_lowers_maxconn_and_never_raises_it() -> None:
    config = _render(_protect(ProtectionSpec(max_connections=300)))
    assert "maxconn 300" in _frontend(config)
    config = _render(_protect(ProtectionSpec(max_connections=1_000_000)))
    assert "maxconn 1000" in _frontend(config)  # the listener's connection_limit


def test_cidrs_are_normalised_deduplicated_and_chunked() -> None:
    assert cidrs(["2001:0DB8:0::/32", "2001:db8::/32", "10.0.0.0/8"], "f") == (
        "2001:db8::/32",
        "10.0.0.0/8",
    )
    many = tuple(f"10.{i // 256}.{i % 256}.0/24" for i in range(33))
    lines = render_protection(HTTP_ID, ProtectionSpec(deny_cidrs=many), True, 4).frontend
    acl_lines = [line for line in lines if line.startswith("acl sy_deny src ")]
    assert [len(line.split()) - 3 for line in acl_lines] == [16, 16, 1]


def test_too_many_networks_are_refused() -> None:
    many = [f"10.{i // 256 % 256}.{i % 256}.0/24" for i in range(MAX_CIDRS + 1)]
    with pytest.raises(RenderError, match="more than"):
        cidrs(many, "listener.protection.deny_cidrs")


@pytest.mark.parametrize("field", HTTP_ONLY)
def test_http_only_fields_are_refused_on_tcp(field: str) -> None:
    value: Any = ("10.0.0.0/8",) if field == "trusted_proxies" else 1000
    with pytest.raises(RenderError, match=f"{field} is only valid for HTTP listeners"):
        render_protection(TCP_ID, ProtectionSpec(**{field: value}), False, 4)


def test_the_under_attack_profile_renders_for_tcp_through_for_protocol() -> None:
    # The contract with the model: what `for_protocol` leaves for a TCP listener renders.
    merged = effective_protection(None, overrides=(UNDER_ATTACK,))
    assert merged is not None
    with pytest.raises(RenderError):
        render_protection(TCP_ID, merged, False, 4)
    tcp = for_protocol(merged, ListenerProtocol.TCP)
    assert tcp is not None
    assert all(getattr(tcp, name) in (None, ()) for name in HTTP_ONLY)
    lines = render_protection(TCP_ID, tcp, False, 4).frontend
    assert _action_for(lines, "sy_max_conn") == "tcp-request connection reject if sy_counted"


def test_protection_must_be_a_protection_spec() -> None:
    spec = full_spec()
    listener: ListenerSpec = replace(spec.listeners[0], protection={"max_conn_per_source": 1})  # type: ignore[arg-type]
    with pytest.raises(RenderError, match="must be a ProtectionSpec"):
        _render(replace(spec, listeners=(listener,)))

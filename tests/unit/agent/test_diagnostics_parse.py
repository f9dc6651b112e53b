"""The diagnostics readers on HAProxy 2.6.12's, keepalived's and iproute2's own output."""

from pathlib import Path
from typing import Any

from steelyard.agent.diagnostics_parse import (
    parse_ip_addr,
    parse_ip_route,
    parse_keepalived_instances,
    parse_servers_state,
    parse_show_info,
    parse_show_stat,
    summarise_sessions,
)

GOLDEN_KEEPALIVED = Path(__file__).parents[2] / "golden/keepalived/custom_profile.conf"

SHOW_INFO = """Name: HAProxy
Version: 2.6.12-1+deb12u4
Release_date: 2026/10/17
Nbthread: 2
Pid: 17190
Uptime: 0d 0h00m02s
Uptime_sec: 2
Ulimit-n: 230
Maxconn: 100
Hard_maxconn: 100
CurrConns: 3
CumConns: 7
CumReq: 1
ConnRate: 0
Idle_pct: 100
Unstoppable Jobs: 0
Build info: 2.6.12-1+deb12u4
Tainted: 0
"""

SAMPLES = Path(__file__).parent / "samples"  # HAProxy 2.6.12's own answers
SHOW_STAT = (SAMPLES / "show_stat.txt").read_text()
SERVERS_STATE = (SAMPLES / "show_servers_state.txt").read_text()

SESSION = (
    "0x7f9aac02bff0: proto=tcpv4 src=198.18.0.1:4242 fe={fe} be={be} srv={srv} ts=00 "
    "epoch=0 age=0s calls=2 rate=1 cpu=0 lat=0 rq[f=c0c020h,i=0,an=00h,rx=,wx=,ax=]"
)


def test_show_info_keeps_the_selected_fields_with_their_types() -> None:
    info = parse_show_info(SHOW_INFO)
    assert info.version == "2.6.12-1+deb12u4"
    assert (info.nbthread, info.pid, info.uptime_sec) == (2, 17190, 2)
    assert (info.maxconn, info.curr_conns, info.cum_conns, info.cum_req) == (100, 3, 7, 1)
    assert info.ulimit_n == 230 and info.idle_pct == 100
    assert info.uptime == "0d 0h00m02s"
    assert info.sess_rate is None  # not in this answer


def test_show_stat_reads_check_details_of_servers() -> None:
    rows = {(row.proxy, row.name): row for row in parse_show_stat(SHOW_STAT)}
    assert rows[("fe", "FRONTEND")].type == "frontend"
    assert rows[("fe", "FRONTEND")].session_limit == 100
    refused = rows[("be", "s1")]
    assert (refused.type, refused.status, refused.check_status) == ("server", "DOWN", "L4CON")
    assert refused.last_check == "Connection refused"
    assert refused.address == "127.0.0.1:1"
    assert (refused.check_failures, refused.down_transitions, refused.downtime_s) == (1, 1, 3)
    wrong = rows[("be", "s2")]
    assert (wrong.check_status, wrong.check_code, wrong.check_duration_ms) == ("L7STS", 500, 4)
    assert wrong.check_description == "Layer7 wrong status"
    running = SHOW_STAT.replace(",L4CON,", ",* L4CON,")  # a check in progress
    assert parse_show_stat(running)[1].check_status == "L4CON"
    assert rows[("be", "BACKEND")].type == "backend"
    assert rows[("be", "BACKEND")].http_responses["5xx"] == 0


def test_servers_state_decodes_states_and_flags_and_skips_broken_lines() -> None:
    servers = parse_servers_state(SERVERS_STATE)
    assert [s.server for s in servers] == ["s1", "s2"]
    s1, s2 = servers
    assert (s1.operational_state, s1.admin_state, s1.check_result) == ("STOPPED", [], "FAILED")
    assert (s1.port, s1.check_address, s1.check_port) == (1, None, None)
    assert (s2.operational_state, s2.check_result) == ("RUNNING", "PASSED")
    assert s2.admin_state == ["FMAINT", "FDRAIN"]  # 9 = 0x01 | 0x08
    assert (s2.user_weight, s2.initial_weight) == (0, 1)
    assert (s2.check_address, s2.check_port) == ("198.18.0.8", 9000)


def test_sessions_are_counted_without_the_cli_and_bounded() -> None:
    lines = [
        SESSION.format(fe="GLOBAL", be="<NONE>", srv="<none>"),
        *[SESSION.format(fe="l1", be="p1", srv="m1")] * 3,
        SESSION.format(fe="l1", be="p1", srv="<none>"),  # still waiting for a server
        SESSION.format(fe="l2", be="<NONE>", srv="<none>"),
    ]
    summary = summarise_sessions("\n".join(lines) + "\n", limit=100)
    assert summary.total == 5
    assert summary.by_frontend == {"l1": 4, "l2": 1}
    assert summary.by_backend == {"p1": 4}
    assert summary.by_server == {"p1/m1": 3}
    assert (summary.scanned, summary.truncated) == (6, False)

    bounded = summarise_sessions("\n".join(lines) + "\n", limit=2)
    assert (bounded.scanned, bounded.truncated, bounded.total) == (2, True, 1)
    # read with a byte limit: the last line is cut and not counted
    cut = summarise_sessions("\n".join(lines)[:-20], limit=100)
    assert (cut.truncated, cut.total) == (True, 4)


def test_keepalived_instances_from_a_rendered_config() -> None:
    (instance,) = parse_keepalived_instances(GOLDEN_KEEPALIVED.read_text())
    assert instance.name == "steelyard"
    assert instance.interface == "eth0"
    assert (instance.virtual_router_id, instance.priority, instance.version) == (51, 100, 3)
    assert instance.advert_int == 0.25
    assert instance.nopreempt is True
    assert instance.unicast_src_ip == "198.18.0.11"
    assert instance.unicast_peers == ["198.18.0.12"]
    assert instance.virtual_ipaddresses == ["198.18.0.10/24 dev eth0"]


def test_keepalived_parser_tolerates_junk() -> None:
    assert parse_keepalived_instances("vrrp_instance x {\n priority high\n}\n}\n{") == [
        parse_keepalived_instances("vrrp_instance x {\n}\n")[0]
    ]
    assert parse_keepalived_instances("") == []


def test_ip_json_into_interfaces_and_routes() -> None:
    links: list[dict[str, Any]] = [
        {
            "ifname": "eth0",
            "flags": ["BROADCAST", "UP"],
            "mtu": 1500,
            "operstate": "UP",
            "address": "02:00:00:00:00:01",
            "addr_info": [
                {"family": "inet", "local": "198.18.0.10", "prefixlen": 24},
                {"family": "inet6", "local": "fd00::10", "prefixlen": 64},
            ],
        },
        {"no": "name"},
    ]
    (eth0,) = parse_ip_addr(links)
    assert eth0.addresses == ["198.18.0.10/24", "fd00::10/64"]
    assert (eth0.state, eth0.mtu, eth0.mac) == ("UP", 1500, "02:00:00:00:00:01")
    routes = parse_ip_route(
        [
            {"dst": "198.18.0.0/24", "dev": "eth0", "protocol": "kernel", "prefsrc": "198.18.0.10"},
            {"type": "unreachable", "dst": "198.18.66.0/24"},
            {
                "dst": "198.18.9.0/24",
                "nexthops": [{"gateway": "198.18.0.11", "dev": "eth0"}, {"dev": "eth1"}],
            },
        ],
        "inet",
    )
    assert [(r.destination, r.type, r.source) for r in routes] == [
        ("198.18.0.0/24", None, "198.18.0.10"),
        ("198.18.66.0/24", "unreachable", None),
        ("198.18.9.0/24", None, None),
    ]
    assert routes[2].nexthops == ["via 198.18.0.11 dev eth0", "dev eth1"]

"""The agent's diagnostics and member test with a real HAProxy in a namespace: a member that
refuses, one that never answers (its packets are dropped), one answering 500 where the check
expects 200, one without a route, and one that is fine."""

import socket

import pytest

from steelyard.agent.client import AgentClient
from steelyard.agent.netns import run_in_netns
from steelyard.model.diagnostics import (
    ConnectivityRequest,
    HealthCheckProbe,
    ProbeTarget,
)
from tests.integration.agent.helpers import wait_for
from tests.integration.diagnostics.conftest import (
    APPLIANCE_IP,
    CLOSED_PORT,
    DROPPED,
    ERROR_PORT,
    GOOD_PORT,
    MEMBER_IP,
    SLOW_PORT,
    UNROUTED,
    Wiring,
)

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("members")]
SERVERS = {
    "good": f"{MEMBER_IP}:{GOOD_PORT}",
    "error": f"{MEMBER_IP}:{ERROR_PORT}",
    "refusing": f"{MEMBER_IP}:{CLOSED_PORT}",
    "silent": f"{DROPPED}:80",
}


def started(agent: AgentClient, wiring: Wiring) -> None:
    info = agent.ensure_appliance("diag", netns=wiring.appliance)
    servers = "".join(
        f"    server {name} {address} check inter 200ms fall 1 rise 1\n"
        for name, address in SERVERS.items()
    )
    cfg = f"""global
    stats socket {info.paths.stats_socket} mode 600 level admin expose-fd listeners
    server-state-file {info.paths.server_state_file}
    hard-stop-after 3s
    maxconn 200

defaults
    mode http
    timeout connect 300ms
    timeout check 300ms
    timeout client 5s
    timeout server 5s

frontend fe
    bind {APPLIANCE_IP}:80
    use_backend hold if {{ path /slow }}
    default_backend pool

backend hold
    server slow {MEMBER_IP}:{SLOW_PORT}

backend pool
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
{servers}"""
    assert agent.apply_config("diag", 1, cfg, [f"{APPLIANCE_IP}:80"]).action == "started"


def checks(agent: AgentClient) -> dict[str, str | None]:
    return {
        row.name: row.check_status
        for row in agent.diagnostics("diag").stats
        if row.type == "server" and row.proxy == "pool"
    }


def sessions(agent: AgentClient) -> int:
    summary = agent.diagnostics("diag").sessions
    return summary.total if summary is not None else 0


def test_diagnostics_show_haproxy_the_checks_sessions_and_the_namespace(
    agent: AgentClient, wiring: Wiring
) -> None:
    started(agent, wiring)
    expected = {"good": "L7OK", "error": "L7STS", "refusing": "L4CON", "silent": "L4TOUT"}
    wait_for(lambda: checks(agent) == expected, "every check to settle")
    # a request waiting for the slow member is a session of frontend, backend and server
    client = run_in_netns(wiring.members, lambda: socket.create_connection((APPLIANCE_IP, 80)))
    client.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        wait_for(lambda: sessions(agent) > 0, "the session to show")
        found = agent.diagnostics("diag")
    finally:
        client.close()
    assert found.errors == {}, found.errors
    assert found.haproxy_running and found.generation == 1
    assert found.info is not None and (found.info.version or "").startswith("2.6")
    assert found.info.maxconn == 200 and found.info.uptime_sec is not None
    rows = {row.name: row for row in found.stats if row.type == "server"}
    assert rows["refusing"].last_check == "Connection refused"
    assert rows["error"].check_code == 500
    assert {row.proxy: row.status for row in found.stats if row.name == "BACKEND"} == {
        "pool": "UP",
        "hold": "UP",
    }
    states = {server.server: server for server in found.servers}
    assert states["good"].operational_state == "RUNNING"
    assert states["refusing"].operational_state == "STOPPED"
    assert (states["silent"].address, states["silent"].port) == (DROPPED, 80)
    assert found.sessions is not None
    assert (found.sessions.total, found.sessions.by_frontend) == (1, {"fe": 1})
    assert found.sessions.by_server == {"hold/slow": 1}
    assert found.keepalived is not None and not found.keepalived.configured
    network = found.network
    assert network is not None and network.netns == wiring.appliance
    links = {link.name: link for link in network.interfaces}
    assert links[wiring.link].addresses[0] == f"{APPLIANCE_IP}/24"  # then its fe80::/64
    assert links["lo"].state == "UNKNOWN"
    routes = {(r.destination, r.type, r.gateway) for r in network.routes}
    assert ("198.18.151.0/24", None, MEMBER_IP) in routes
    assert ("198.18.152.0/24", "unreachable", None) in routes


def test_connectivity_names_each_member_s_problem(agent: AgentClient, wiring: Wiring) -> None:
    started(agent, wiring)
    health = HealthCheckProbe(url_path="/health", expected_codes="200")
    targets = [
        ProbeTarget(member_id="good", address=MEMBER_IP, port=GOOD_PORT, check=health),
        ProbeTarget(member_id="error", address=MEMBER_IP, port=ERROR_PORT, check=health),
        ProbeTarget(member_id="refusing", address=MEMBER_IP, port=CLOSED_PORT, check=health),
        ProbeTarget(member_id="silent", address=DROPPED, port=80),
        ProbeTarget(member_id="unrouted", address=UNROUTED, port=80),
    ]
    report = agent.connectivity("diag", ConnectivityRequest(targets=targets, timeout_s=0.5))
    assert (report.source, report.netns) == ("request", wiring.appliance)
    results = {r.target.member_id: r for r in report.results}
    assert {name: r.verdict for name, r in results.items()} == {
        "good": "ok",
        "error": "unexpected_status",
        "refusing": "refused",
        "silent": "timeout",
        "unrouted": "unreachable",
    }
    good, error = results["good"], results["error"]
    assert good.check is not None and good.check.status_code == 200
    assert good.check.request == f"GET /health HTTP/1.0 -> {MEMBER_IP}:{GOOD_PORT}"
    assert error.tcp.ok and error.check is not None
    assert (error.check.status_code, error.check.expected_codes) == (500, "200")
    assert results["refusing"].tcp.errno == "ECONNREFUSED"
    assert results["silent"].tcp.errno == "ETIMEDOUT"
    assert (results["silent"].tcp.connect_ms or 0) >= 450
    assert results["unrouted"].tcp.errno == "EHOSTUNREACH"
    # a refused connect answers in microseconds, not after the timeout
    assert (results["refusing"].tcp.connect_ms or 0) < (results["silent"].tcp.connect_ms or 0)

    # without targets: every server of the config in force, TCP only
    running = agent.connectivity("diag", ConnectivityRequest(timeout_s=0.5))
    assert running.source == "running_config"
    assert {r.target.member_id: r.verdict for r in running.results} == {
        "good": "ok",
        "error": "ok",  # it accepts connections; only its HTTP answer is wrong
        "refusing": "refused",
        "silent": "timeout",
        "slow": "ok",
    }
    assert {r.target.pool_id for r in running.results} == {"pool", "hold"}

"""Real HAProxy, real agent: requests through a rendered config become flow records at the
agent's GET /v1/logs, HAProxy's own messages and the agent's records admin records; also
from inside a network namespace (the log socket is a path, reachable from there)."""

import http.client
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steelyard.agent.client import AgentClient
from steelyard.agent.contract import ApplianceInfo
from steelyard.agent.log_records import LogRecord
from steelyard.agent.netns import run_in_netns
from steelyard.agent.pki import PkiPaths
from steelyard.model.enums import HealthMonitorType, LBAlgorithm, ListenerProtocol, PoolProtocol
from steelyard.model.spec import (
    HealthMonitorSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    RenderSettings,
    RuntimePaths,
)
from steelyard.render.haproxy import render_haproxy
from tests.integration.agent.helpers import Backend, ThreadedAgent, free_port

LB = "0b000000-0000-4000-8000-000000000000"
HTTP_LISTENER = "a0000000-0000-4000-8000-000000000001"
TCP_LISTENER = "a0000000-0000-4000-8000-000000000002"
POOL = "b0000000-0000-4000-8000-000000000001"
MEMBER = "c0000000-0000-4000-8000-000000000001"


def spec(http_port: int, tcp_port: int | None, backend_port: int | None) -> LoadBalancerSpec:
    listeners = [
        ListenerSpec(
            id=HTTP_LISTENER,
            protocol=ListenerProtocol.HTTP,
            protocol_port=http_port,
            default_pool_id=POOL if backend_port else None,
        )
    ]
    if tcp_port is not None:
        listeners.append(
            ListenerSpec(
                id=TCP_LISTENER,
                protocol=ListenerProtocol.TCP,
                protocol_port=tcp_port,
                default_pool_id=POOL,
            )
        )
    pools: tuple[PoolSpec, ...] = ()
    if backend_port is not None:
        monitor = HealthMonitorSpec(
            id="d0000000-0000-4000-8000-000000000001",
            type=HealthMonitorType.TCP,
            delay=1,
            timeout=1,
            max_retries=1,
            max_retries_down=1,
        )
        member = MemberSpec(MEMBER, "127.0.0.1", backend_port)
        pools = (
            PoolSpec(
                id=POOL,
                protocol=PoolProtocol.HTTP,
                lb_algorithm=LBAlgorithm.ROUND_ROBIN,
                members=(member,),
                healthmonitor=monitor,
            ),
        )
    return LoadBalancerSpec(id=LB, vip_address="127.0.0.1", listeners=tuple(listeners), pools=pools)


def render(info: ApplianceInfo, lb: LoadBalancerSpec) -> str:
    paths = RuntimePaths(
        info.paths.stats_socket, info.paths.server_state_file, log_socket=info.paths.log_socket
    )
    return render_haproxy(lb, RenderSettings(paths=paths))


def collect(
    agent: AgentClient, wanted: Callable[[list[LogRecord]], bool], timeout_s: float = 10
) -> list[LogRecord]:
    """Every record read from the start until `wanted` holds (a bound, not a time limit)."""
    records: list[LogRecord] = []
    cursor = 0
    deadline = time.monotonic() + timeout_s
    while not wanted(records):
        if time.monotonic() > deadline:
            raise AssertionError(f"not found within {timeout_s} s in {records!r}"[:4000])
        batch = agent.logs(cursor)
        records += batch.records
        cursor = batch.cursor
        time.sleep(0.05)
    return records


def flows(records: list[LogRecord]) -> list[LogRecord]:
    return [record for record in records if record.flow is not None]


def raw_request(port: int, path: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return sock.recv(100)


def test_requests_become_flow_records_and_messages_admin_records(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    info = agent.ensure_appliance("lg1")
    assert info.paths.log_socket is not None and Path(info.paths.log_socket).is_socket()
    http_port, tcp_port = free_port(), free_port()
    cfg = render(info, spec(http_port, tcp_port, backends[0].port))
    agent.apply_config("lg1", 1, cfg, [f"127.0.0.1:{http_port}"])
    sent_at = time.time()
    raw_request(http_port, b"/first")
    raw_request(http_port, b'/x"y]\\z?q=' + b"A" * 3000)
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as tcp:
        tcp.sendall(b"GET /over-tcp HTTP/1.0\r\n\r\n")
        tcp.recv(100)

    records = collect(agent, lambda got: len(flows(got)) >= 3)
    first, hostile, over_tcp = (record.flow for record in flows(records)[:3])
    assert first is not None and hostile is not None and over_tcp is not None
    assert all(record.appliance == "lg1" for record in flows(records))
    assert (first.listener_id, first.status_code, first.http_method) == (HTTP_LISTENER, 200, "GET")
    assert (first.request_uri, first.http_version) == ("/first", "HTTP/1.1")
    assert (first.pool_id, first.member_id, first.client_address) == (POOL, MEMBER, "127.0.0.1")
    assert first.bytes_out and first.bytes_in and first.time_total_ms is not None
    assert abs(first.accepted_at.timestamp() - sent_at) < 5
    # HAProxy escapes the quote; the long line is cut, never split into two records
    assert hostile.request_uri is not None and hostile.request_uri.startswith("/x#22y]\\z?q=AAA")
    assert over_tcp.listener_id == TCP_LISTENER and over_tcp.status_code is None
    assert over_tcp.http_method is None and over_tcp.bytes_in and over_tcp.bytes_out
    assert any(r.source == "agent" and "generation 1 started" in r.message for r in records)

    backends[0].close()  # the health check marks the member DOWN: HAProxy says so
    records = collect(
        agent, lambda got: any(r.source == "haproxy" and "is DOWN" in r.message for r in got)
    )
    down = next(r for r in records if r.source == "haproxy" and "is DOWN" in r.message)
    assert down.appliance == "lg1" and down.severity == "alert" and MEMBER in down.message


def test_a_deleted_appliance_keeps_its_last_records_for_the_reader(agent: AgentClient) -> None:
    info = agent.ensure_appliance("lg3")
    port = free_port()
    agent.apply_config("lg3", 1, render(info, spec(port, None, None)), [f"127.0.0.1:{port}"])
    assert b" 503 " in raw_request(port, b"/")
    collect(agent, lambda got: len(flows(got)) >= 1)
    agent.delete_appliance("lg3")
    batch = agent.logs(0)
    assert any("lg3: appliance deleted" in r.message for r in batch.records)
    assert agent.logs(batch.cursor).records == []


def test_a_restarted_agent_gets_the_running_haproxys_logs(state_dir: Path, pki: PkiPaths) -> None:
    """HAProxy keeps serving while the agent restarts; the new agent binds the socket path
    again and HAProxy's next lines reach it (HAProxy addresses each datagram to the path)."""
    port = free_port()
    first = ThreadedAgent(state_dir, pki)
    try:
        info = first.client.ensure_appliance("lg4")
        cfg = render(info, spec(port, None, None))
        first.client.apply_config("lg4", 1, cfg, [f"127.0.0.1:{port}"])
    finally:
        first.stop()
    second = ThreadedAgent(state_dir, pki)
    try:
        raw_request(port, b"/after-restart")
        records = collect(second.client, lambda got: len(flows(got)) >= 1)
        flow = flows(records)[0].flow
        assert flow is not None and flow.request_uri == "/after-restart"
    finally:
        second.stop()


@pytest.fixture
def lonely_netns() -> Iterator[str]:
    name = f"tl-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.mark.root
def test_haproxy_in_a_namespace_reaches_the_agents_socket(
    agent: AgentClient, lonely_netns: str
) -> None:
    info = agent.ensure_appliance("lg2", netns=lonely_netns)
    port = free_port()
    agent.apply_config("lg2", 1, render(info, spec(port, None, None)), [f"127.0.0.1:{port}"])

    def get() -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/from-inside")
            return connection.getresponse().status
        finally:
            connection.close()

    assert run_in_netns(lonely_netns, get) == 503  # no pool: HAProxy answers itself
    records = collect(agent, lambda got: len(flows(got)) >= 1)
    flow = flows(records)[0].flow
    assert flow is not None and (flow.status_code, flow.request_uri) == (503, "/from-inside")

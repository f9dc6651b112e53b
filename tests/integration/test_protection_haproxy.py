"""Protection rules in a real HAProxy 2.6, driven by the agent: what clients see, what the
member sees, and what the agent's protection endpoint reports.

Everything runs on loopback: the whole of 127.0.0.0/8 is local, so binding a client socket to
127.0.0.2 or 127.0.0.3 makes two different sources without namespaces. 127.0.0.1 is kept for
the agent's own listener checks. HAProxy is started and stopped by the agent (by PIDs it can
prove are its own); every fixture stops what it started, also when a test fails.
"""

import http.client
import http.server
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from steelyard.agent.client import AgentApplyError, AgentClient
from steelyard.agent.contract import ListenerProtection
from steelyard.agent.pki import ensure_pki
from steelyard.model.enums import LBAlgorithm, ListenerProtocol, PoolProtocol
from steelyard.model.spec import (
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    ProtectionSpec,
    RenderSettings,
    RuntimePaths,
)
from steelyard.render.haproxy import render_haproxy
from tests.integration import test_render_haproxy_check as check
from tests.integration.agent.conftest import stop_all
from tests.integration.agent.helpers import ThreadedAgent, free_port
from tests.unit.render.test_haproxy_golden import CASES

pytestmark = pytest.mark.skipif(check.HAPROXY is None, reason="haproxy is not installed")

LB_ID = "0b000000-0000-4000-8000-0000000000a1"
POOL_ID = "b0000000-0000-4000-8000-0000000000a1"
LIMITED = "a0000000-0000-4000-8000-0000000000a1"  # HTTP, 429
TARPIT = "a0000000-0000-4000-8000-0000000000a2"  # HTTP, tarpit
TCP = "a0000000-0000-4000-8000-0000000000a3"  # TCP, reject
PROXIED = "a0000000-0000-4000-8000-0000000000a4"  # HTTP behind a trusted proxy
PROXY_PROTOCOL = "a0000000-0000-4000-8000-0000000000a5"  # HTTP with PROXY protocol
CONNECTIONS = "a0000000-0000-4000-8000-0000000000a6"  # HTTP, both connection limits, 429
PROTECTION = {
    LIMITED: ProtectionSpec(
        max_conn_per_source=3,
        req_rate_per_source=5,
        req_rate_period_s=30,
        retry_after_s=7,
        http_request_timeout_ms=1500,
        max_header_bytes=1024,
        max_body_bytes=1000,
        deny_cidrs=("127.0.0.66/32",),
        allow_cidrs=("127.0.0.77/32",),
    ),
    TARPIT: ProtectionSpec(
        req_rate_per_source=2, req_rate_period_s=30, action="tarpit", tarpit_s=1
    ),
    TCP: ProtectionSpec(
        conn_rate_per_source=3, conn_rate_period_s=30, deny_cidrs=("127.0.0.66/32",)
    ),
    PROXIED: ProtectionSpec(
        req_rate_per_source=3, req_rate_period_s=30, trusted_proxies=("127.0.0.9/32",)
    ),
    CONNECTIONS: ProtectionSpec(
        max_conn_per_source=2, conn_rate_per_source=3, conn_rate_period_s=30, retry_after_s=9
    ),
    PROXY_PROTOCOL: ProtectionSpec(
        req_rate_per_source=2,
        req_rate_period_s=30,
        accept_proxy=True,
        deny_cidrs=("198.51.100.66/32",),
    ),
}
PROTECTION_CASES = [case for case in CASES if case.stem.startswith("protection_")]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 and records (peer, X-Forwarded-For) of every request it serves."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.seen.append((self.client_address[0], self.headers.get("X-Forwarded-For")))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # HAProxy resetting an idle server-side connection is not an error here


class Member:
    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), _Recorder)
        self.server.daemon_threads = True
        self.server.seen = []  # type: ignore[attr-defined]
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def seen(self) -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = self.server.seen  # type: ignore[attr-defined]
        return seen

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass
class Running:
    agent: AgentClient
    name: str
    member: Member
    ports: dict[str, int]

    def stats(self) -> dict[str, ListenerProtection]:
        return {item.listener_id: item for item in self.agent.protection_stats(self.name)}


def _spec(ports: dict[str, int], member_port: int) -> LoadBalancerSpec:
    pool = PoolSpec(
        id=POOL_ID,
        protocol=PoolProtocol.HTTP,
        lb_algorithm=LBAlgorithm.ROUND_ROBIN,
        members=(
            MemberSpec(
                id="c0000000-0000-4000-8000-0000000000a1",
                address="127.0.0.1",
                protocol_port=member_port,
            ),
        ),
    )
    listeners = tuple(
        ListenerSpec(
            id=listener_id,
            protocol=ListenerProtocol.TCP if listener_id == TCP else ListenerProtocol.HTTP,
            protocol_port=ports[listener_id],
            default_pool_id=POOL_ID,
            protection=protection,
        )
        for listener_id, protection in PROTECTION.items()
        if listener_id in ports
    )
    return LoadBalancerSpec(id=LB_ID, vip_address="127.0.0.1", listeners=listeners, pools=(pool,))


@pytest.fixture(scope="module")
def agent() -> Iterator[tuple[AgentClient, Path]]:
    root = Path(tempfile.mkdtemp(prefix="sy-", dir="/tmp"))
    threaded = ThreadedAgent(root / "state", ensure_pki(root / "pki"))
    try:
        yield threaded.client, root / "state"
    finally:
        threaded.stop()
        stop_all(root / "state")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def running(agent: tuple[AgentClient, Path], request: pytest.FixtureRequest) -> Iterator[Running]:
    client, state_dir = agent
    name = "tp-" + request.node.name.split("[")[0].replace("_", "-")[5:30].strip("-")
    member = Member()
    try:
        info = client.ensure_appliance(name)
        paths = RuntimePaths(info.paths.stats_socket, info.paths.server_state_file)
        for attempt in range(3):
            ports = {listener_id: free_port() for listener_id in PROTECTION}
            cfg = render_haproxy(_spec(ports, member.port), RenderSettings(paths=paths))
            try:
                # No listener check: its connections from 127.0.0.1 would be tracked too.
                client.apply_config(name, 1 + attempt, cfg)
                break
            except AgentApplyError as exc:
                # A free port can be taken by another process before HAProxy binds it.
                if exc.error.stage != "start" or attempt == 2:
                    raise
        yield Running(client, name, member, ports)
    finally:
        client.delete_appliance(name)
        stop_all(state_dir)
        member.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    seconds: float


def get(
    port: int,
    source: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> Answer:
    """One request on a new connection from `source`; raises ConnectionError when refused."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    started = time.monotonic()
    try:
        conn.request(method, "/", body=body, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        response.read()
        found = {key.lower(): value for key, value in response.getheaders()}
        return Answer(response.status, found, time.monotonic() - started)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
        raise ConnectionError(f"no answer: {exc!r}") from exc
    finally:
        conn.close()


def statuses(
    port: int, source: str, count: int, headers: dict[str, str] | None = None
) -> list[int]:
    return [get(port, source, headers).status for _ in range(count)]


def refused(port: int, source: str, payload: bytes = b"GET / HTTP/1.0\r\n\r\n") -> bool:
    """True when the connection is closed without a single byte of answer.

    HAProxy resets a rejected connection right after accepting it; on loopback the reset can
    arrive while connect() returns, so it may surface at any step.
    """
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(source, 0)
        ) as sock:
            sock.sendall(payload)
            return sock.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


@pytest.mark.parametrize("case", PROTECTION_CASES, ids=[case.stem for case in PROTECTION_CASES])
def test_protection_goldens_pass_haproxy_check(case: Path, tmp_path: Path) -> None:
    if case.with_suffix(".cfg").exists():
        check.test_haproxy_accepts_golden(case, tmp_path)
    else:
        assert case.with_suffix(".err").exists()


def test_over_the_rate_gets_429_while_another_source_is_served(running: Running) -> None:
    port = running.ports[LIMITED]
    fast: list[Answer] = []
    for _ in range(4):  # interleaved: both sources in the same run, at the same time
        fast += [get(port, "127.0.0.2"), get(port, "127.0.0.2")]
        assert get(port, "127.0.0.3").status == 200
    assert [a.status for a in fast] == [200] * 5 + [429] * 3
    assert all(a.headers.get("retry-after") == "7" for a in fast[5:])
    assert len(running.member.seen) == 5 + 4  # the 429s never reached it

    stats = running.stats()[LIMITED]
    assert stats.rejected == {
        "deny_cidr": 0,
        "max_conn": 0,
        "conn_rate": 0,
        "req_rate": 3,
        "header_size": 0,
        "body_size": 0,
    }
    assert stats.tracked_sources == 2
    assert stats.req_rate_period_s == 30 and stats.table_size == 1_000_000
    top = stats.top_sources[0]
    assert (top.address, top.http_req_rate, top.conn_rate) == ("127.0.0.2", 8, 8)
    assert [s.address for s in stats.top_sources] == ["127.0.0.2", "127.0.0.3"]


def test_allow_listed_source_is_not_limited_or_tracked(running: Running) -> None:
    assert statuses(running.ports[LIMITED], "127.0.0.77", 12) == [200] * 12
    stats = running.stats()[LIMITED]
    assert stats.tracked_sources == 0 and stats.rejected["req_rate"] == 0


def test_deny_listed_source_never_reaches_the_member(running: Running) -> None:
    assert refused(running.ports[LIMITED], "127.0.0.66")
    assert refused(running.ports[TCP], "127.0.0.66")
    assert running.member.seen == []
    stats = running.stats()
    assert stats[LIMITED].rejected["deny_cidr"] == 1
    assert stats[TCP].rejected["deny_cidr"] == 1
    assert get(running.ports[LIMITED], "127.0.0.5").status == 200


def test_slow_header_client_is_cut_off_while_others_are_served(running: Running) -> None:
    port = running.ports[LIMITED]
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 20 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.6", 0)) as sock:
        sock.settimeout(0.01)
        started = time.monotonic()
        answer = b""
        for byte in request:  # one byte per second
            sock.sendall(bytes([byte]))
            assert get(port, "127.0.0.7").status == 200
            deadline = time.monotonic() + 1
            while not answer and time.monotonic() < deadline:
                try:
                    answer = sock.recv(100)
                except TimeoutError:
                    continue
            if answer:
                break
        cut_after = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 1.4 <= cut_after <= 2.6  # timeout http-request 1500ms, with one-second steps
    assert running.stats()[LIMITED].request_errors == 1


def test_header_and_body_limits(running: Running) -> None:
    port = running.ports[LIMITED]
    assert get(port, "127.0.0.8", {"X-Big": "a" * 1100}).status == 431
    assert get(port, "127.0.0.8", method="POST", body=b"x" * 1001).status == 413
    assert get(port, "127.0.0.8", method="POST", body=b"x" * 1000).status == 200
    rejected = running.stats()[LIMITED].rejected
    assert (rejected["header_size"], rejected["body_size"]) == (1, 1)


def test_excess_connections_of_one_source_get_429(running: Running) -> None:
    port = running.ports[LIMITED]
    conns = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=("127.0.0.4", 0))
        for _ in range(4)
    ]
    try:
        answers = []
        for conn in conns:  # four open connections, each asking once
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            answers.append(response.status)
        assert answers == [200, 200, 200, 429]
        conns[0].request("GET", "/")  # the earlier connections stay served
        assert conns[0].getresponse().status == 200
    finally:
        for conn in conns:
            conn.close()
    stats = running.stats()[LIMITED]
    assert stats.rejected["max_conn"] == 1
    assert stats.top_sources[0].address == "127.0.0.4"


def test_each_connection_limit_is_counted_as_itself(running: Running) -> None:
    port = running.ports[CONNECTIONS]
    # conn_rate: the fourth new connection within the period is over.
    answers = [get(port, "127.0.0.2") for _ in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["retry-after"] == "9"
    # max_conn: a third connection held open beside two others is over.
    held = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=("127.0.0.3", 0))
        for _ in range(3)
    ]
    try:
        statuses_held = []
        for conn in held:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            statuses_held.append(response.status)
        conn = held[2]
        conn.request("GET", "/")  # every request of the marked connection is answered 429
        second = conn.getresponse()
        second.read()
    finally:
        for conn in held:
            conn.close()
    assert statuses_held == [200, 200, 429] and second.status == 429
    rejected = running.stats()[CONNECTIONS].rejected
    assert (rejected["conn_rate"], rejected["max_conn"]) == (1, 1)  # once per connection
    assert len(running.member.seen) == 3 + 2


def test_tarpit_holds_then_answers_429(running: Running) -> None:
    port = running.ports[TARPIT]
    first = [get(port, "127.0.0.2") for _ in range(2)]
    held = get(port, "127.0.0.2")
    assert [a.status for a in first] == [200, 200] and held.status == 429
    assert held.seconds >= 0.9  # timeout tarpit 1s
    assert all(a.seconds < 0.5 for a in first)
    assert running.stats()[TARPIT].rejected["req_rate"] == 1


def test_tcp_listener_rejects_over_the_connection_rate(running: Running) -> None:
    port = running.ports[TCP]
    assert statuses(port, "127.0.0.2", 3) == [200, 200, 200]
    assert refused(port, "127.0.0.2")
    assert get(port, "127.0.0.3").status == 200
    stats = running.stats()[TCP]
    assert stats.rejected["conn_rate"] == 1
    assert stats.req_rate_period_s is None and stats.top_sources[0].http_req_rate is None
    assert stats.top_sources[0].conn_rate == 4


def test_trusted_proxy_forwards_the_last_hop_as_the_source(running: Running) -> None:
    port = running.ports[PROXIED]
    via = {"X-Forwarded-For": "192.0.2.50, 203.0.113.7"}  # the proxy appended 203.0.113.7
    assert statuses(port, "127.0.0.9", 4, via) == [200, 200, 200, 429]
    assert statuses(port, "127.0.0.9", 2, {"X-Forwarded-For": "203.0.113.8"}) == [200, 200]
    # An untrusted peer's header is ignored: it is limited as itself, whatever it claims.
    spoofed = {"X-Forwarded-For": "203.0.113.99"}
    assert statuses(port, "127.0.0.10", 4, spoofed) == [200, 200, 200, 429]
    stats = running.stats()[PROXIED]
    rates = {s.address: s.http_req_rate for s in stats.top_sources}
    assert rates == {"203.0.113.7": 4, "203.0.113.8": 2, "127.0.0.10": 4}
    assert stats.rejected["req_rate"] == 2


def test_proxy_protocol_source_is_the_client(running: Running) -> None:
    port = running.ports[PROXY_PROTOCOL]

    def via_proxy(client: str) -> bytes:
        """The start of the answer to a request from `client` relayed by 127.0.0.11."""
        header = f"PROXY TCP4 {client} 127.0.0.1 40000 {port}\r\n".encode()
        try:
            with socket.create_connection(
                ("127.0.0.1", port), timeout=5, source_address=("127.0.0.11", 0)
            ) as sock:
                sock.sendall(header + b"GET / HTTP/1.0\r\n\r\n")
                return sock.recv(12)
        except ConnectionResetError:
            return b""

    assert [via_proxy("198.51.100.5") for _ in range(3)] == [b"HTTP/1.1 200"] * 2 + [
        b"HTTP/1.1 429"
    ]
    assert via_proxy("198.51.100.66") == b""  # denied by its PROXY address
    assert via_proxy("198.51.100.6") == b"HTTP/1.1 200"
    stats = running.stats()[PROXY_PROTOCOL]
    assert {s.address for s in stats.top_sources} == {"198.51.100.5", "198.51.100.6"}
    assert (stats.rejected["deny_cidr"], stats.rejected["req_rate"]) == (1, 1)


def test_unprotected_configs_report_no_listeners(agent: tuple[AgentClient, Path]) -> None:
    client, state_dir = agent
    info = client.ensure_appliance("tp-plain")
    try:
        paths = RuntimePaths(info.paths.stats_socket, info.paths.server_state_file)
        spec = LoadBalancerSpec(id=LB_ID, vip_address="127.0.0.1")
        client.apply_config("tp-plain", 1, render_haproxy(spec, RenderSettings(paths=paths)))
        assert client.protection_stats("tp-plain") == []
    finally:
        client.delete_appliance("tp-plain")
        stop_all(state_dir)


def _fill(
    stats_socket: Path, table: str, count: int, offenders: dict[str, int], prefix: str = ""
) -> None:
    """`count` sources at a low request rate, then `offenders` at theirs, through one
    pipelined CLI session (`prompt` mode answers each command on the same connection).
    `prefix` "::ffff:" writes IPv4 keys into a `type ipv6` table."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(stats_socket))
        sock.sendall(b"prompt\n")
        sock.setblocking(False)
        batch: list[str] = []

        def flush() -> None:
            sock.setblocking(True)
            sock.sendall("".join(batch).encode())
            sock.setblocking(False)
            batch.clear()
            try:  # drain the prompts so that HAProxy never blocks on a full buffer
                while sock.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass

        for i in range(count):
            key = f"{prefix}10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
            batch.append(f"set table {table} key {key} data.http_req_rate {i % 50}\n")
            if len(batch) == 2000:
                flush()
        for key, rate in offenders.items():
            batch.append(f"set table {table} key {prefix}{key} data.http_req_rate {rate}\n")
        batch.append("quit\n")
        flush()
        sock.setblocking(True)
        while sock.recv(1 << 20):
            pass


@pytest.mark.slow
def test_reading_a_million_entry_table(agent: tuple[AgentClient, Path]) -> None:
    """The endpoint on a full 1 M-entry source table: one filtered scan per configured limit,
    the offenders found, and how long HAProxy stalls meanwhile (printed for the record)."""
    client, state_dir = agent
    name = "tp-million"
    member = Member()
    listener_id = LIMITED
    try:
        info = client.ensure_appliance(name)
        paths = RuntimePaths(info.paths.stats_socket, info.paths.server_state_file)
        port = free_port()
        protection = ProtectionSpec(req_rate_per_source=1000, req_rate_period_s=3600)
        spec = _spec({listener_id: port}, member.port)
        listener = replace(spec.listeners[0], protection=protection)
        cfg = render_haproxy(replace(spec, listeners=(listener,)), RenderSettings(paths=paths))
        client.apply_config(name, 1, cfg)
        offenders = {f"192.0.2.{i}": 2000 + i for i in range(15)} | {"127.0.0.4": 5000}
        _fill(Path(info.paths.stats_socket), f"st_{listener_id}", 1_000_000, offenders)
        # A real refusal: the agent only scans for offenders of a limit that refused someone.
        assert get(port, "127.0.0.4").status == 429

        latencies: list[float] = []
        done = threading.Event()

        def traffic() -> None:
            while not done.is_set():
                latencies.append(get(port, "127.0.0.2").seconds)

        thread = threading.Thread(target=traffic)
        thread.start()
        try:
            time.sleep(0.5)
            before = len(latencies)
            started = time.monotonic()
            [stats] = client.protection_stats(name)
            elapsed = time.monotonic() - started
            time.sleep(0.2)
        finally:
            done.set()
            thread.join()
        during = latencies[before:]
        print(
            f"\n1M-entry table: endpoint {elapsed * 1000:.0f} ms,"
            f" max request latency meanwhile {max(during) * 1000:.0f} ms"
            f" (before: {max(latencies[:before]) * 1000:.0f} ms)"
        )
        # When the table is full, HAProxy purges its oldest size/256 + 1 entries at once.
        assert 990_000 <= stats.tracked_sources <= 1_000_000
        assert stats.top_sources_over_limit_only
        top = [s.address for s in stats.top_sources]
        assert top == ["127.0.0.4", *(f"192.0.2.{i}" for i in range(14, 5, -1))]
        assert elapsed < 5
    finally:
        client.delete_appliance(name)
        stop_all(state_dir)
        member.close()

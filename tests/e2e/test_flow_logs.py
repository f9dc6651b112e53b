"""Flow logs end to end: real requests through a load balancer's VIP are found by status code
through the operator API within 2 s, the tenant reads its own (and gets 404 for another
project's load balancer), and remote syslog receivers (UDP and TCP, on 127.0.0.1) get them
as RFC 5424 messages; admin logs reach their own target."""

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import ServerHandle, running_server, wait_until
from tests.e2e.lbtools import create_lb, vip_url, wait_active

pytestmark = pytest.mark.root

RFC5424 = re.compile(
    r"<(\d{1,3})>1 (\S+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) "
    r"([\x21-\x7e]{1,32}) (-|\[(?:[^\]\\]|\\.)*\])(?: (.*))?",
    re.DOTALL,
)


class _Missing(BaseHTTPRequestHandler):
    """200 for /, 404 for anything else."""

    def do_GET(self) -> None:
        status = 200 if self.path == "/" else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class Receivers:
    udp: socket.socket
    tcp: socket.socket
    admin: socket.socket
    tcp_frames: list[bytes] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def accept_tcp(self) -> None:
        """Octet-counted frames from every connection the server makes (RFC 6587)."""
        self.tcp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                connection, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(0.2)
                data = b""
                while not self.stop.is_set():
                    try:
                        chunk = connection.recv(65536)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    data += chunk
                    while b" " in data:
                        length, _, rest = data.partition(b" ")
                        if len(rest) < int(length):
                            break
                        self.tcp_frames.append(rest[: int(length)])
                        data = rest[int(length) :]


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    return sock


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    found = Receivers(_udp(), tcp, _udp())
    thread = threading.Thread(target=found.accept_tcp, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.stop.set()
        thread.join(timeout=5)
        for sock in (found.udp, found.tcp, found.admin):
            sock.close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, receivers: Receivers
) -> Iterator[ServerHandle]:
    def target(kind: str, sock: socket.socket) -> str:
        return f"{kind}://127.0.0.1:{sock.getsockname()[1]}"

    extra = (
        "--log-target", target("udp", receivers.udp),
        "--log-target", target("tcp", receivers.tcp),
        "--admin-log-target", target("udp", receivers.admin),
    )  # fmt: skip
    with running_server(tmp_path_factory.mktemp("logs"), "netns", extra) as handle:
        yield handle


@pytest.fixture(scope="module")
def lb(server: ServerHandle) -> Iterator[dict[str, Any]]:
    backend = ThreadingHTTPServer((server.member_host, 0), _Missing)
    backend.daemon_threads = True
    thread = threading.Thread(target=backend.serve_forever, daemon=True)
    thread.start()
    body = {
        "loadbalancer": {
            "name": "logs",
            "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {
                "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                "members": [{"address": server.member_host, "protocol_port": backend.server_port}],
            }}],
        }
    }  # fmt: skip
    try:
        with server.api("p1") as api:
            created = create_lb(api, body)
            yield wait_active(api, created["id"])
    finally:
        backend.shutdown()
        backend.server_close()


def _receive(sock: socket.socket, wanted: int, timeout_s: float = 10) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < wanted and time.monotonic() < deadline:
        try:
            got.append(sock.recv(65536))
        except TimeoutError:
            continue
    return got


def test_flow_logs_by_status_within_two_seconds_tenant_scope_and_syslog(
    server: ServerHandle, lb: dict[str, Any], receivers: Receivers
) -> None:
    url = vip_url(lb)
    with httpx.Client(timeout=5) as client:
        assert client.get(url).status_code == 200
        for i in range(3):
            assert client.get(f"{url}missing-{i}?q=%22x").status_code == 404
    answered = time.monotonic()

    admin = server.api(project=None)
    path = f"/v2/operator/loadbalancers/{lb['id']}/logs?status_code=404"

    def found() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = admin.get(path).json()["logs"]
        return rows if len(rows) == 3 else None

    rows = wait_until(found, timeout_s=10, interval_s=0.02)
    delay = time.monotonic() - answered
    print(f"\nflow log delay: last request answered -> found by status code in {delay:.3f} s")
    assert delay <= 2.0
    listener_id = lb["listeners"][0]["id"]
    assert [r["request_uri"] for r in rows] == [f"/missing-{i}?q=%22x" for i in range(3)]
    assert {(r["listener_id"], r["http_method"], r["status_code"]) for r in rows} == {
        (listener_id, "GET", 404)
    }
    assert all(r["appliance"] and r["member_id"] for r in rows)

    with server.api("p1") as tenant, server.api("p2") as other:
        own = tenant.get(f"/v2/lbaas/loadbalancers/{lb['id']}/logs?status_code=2xx")
        assert own.status_code == 200
        assert [r["status_code"] for r in own.json()["logs"]] == [200]
        assert "appliance" not in own.json()["logs"][0]
        refused = other.get(f"/v2/lbaas/loadbalancers/{lb['id']}/logs")
        assert refused.status_code == 404 and "faultstring" in refused.json()
        bad = tenant.get(f"/v2/lbaas/loadbalancers/{lb['id']}/logs?status_code=4%0Ax")
        assert bad.status_code == 400

    udp = [line.decode() for line in _receive(receivers.udp, 4)]
    wait_until(lambda: len(receivers.tcp_frames) >= 4, timeout_s=10)
    tcp = [frame.decode() for frame in receivers.tcp_frames]
    for received in (udp, tcp):
        parsed = [RFC5424.fullmatch(line) for line in received]
        assert all(parsed), received
        flows = [m for m in parsed if m and m[4] == "haproxy" and m[6] == "flow"]
        assert len(flows) >= 4
        assert all(f'loadbalancer_id="{lb["id"]}"' in (m[7] or "") for m in flows)
        assert sum('" 404 ' in (m[8] or "") for m in flows) == 3
    admin_lines = [line.decode() for line in _receive(receivers.admin, 1)]
    assert admin_lines and all(RFC5424.fullmatch(line) for line in admin_lines)
    admin.close()


def test_operators_read_admin_logs(server: ServerHandle, lb: dict[str, Any]) -> None:
    with server.api(project=None) as admin:
        response = admin.get(f"/v2/operator/logs?source=agent&loadbalancer_id={lb['id']}")
        assert response.status_code == 200
        messages = [row["message"] for row in response.json()["logs"]]
        assert any("started" in message or "reloaded" in message for message in messages)


def test_each_appliance_has_its_log_socket(server: ServerHandle, lb: dict[str, Any]) -> None:
    sockets = list(Path(server.state_dir).glob("agent/appliances/*/log.sock"))
    assert sockets and all(sock.is_socket() for sock in sockets)

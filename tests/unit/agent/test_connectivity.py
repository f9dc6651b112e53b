"""Member probes against sockets of this test on 127.0.0.1 (no processes): each error kind,
the HTTP check's verdicts, and the agent's route around them."""

import contextlib
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steelyard.agent.connectivity import expected, probe, probe_all
from steelyard.agent.server import create_agent_app
from steelyard.model.diagnostics import HealthCheckProbe, ProbeTarget

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

LOCAL = "127.0.0.1"
Answer = Callable[[socket.socket], None]


def _serve(answer: Answer) -> Iterator[int]:
    """A listening socket whose every connection gets `answer` (in a thread)."""
    listener = socket.socket()
    listener.bind((LOCAL, 0))
    listener.listen(16)
    listener.settimeout(0.05)  # closing a socket does not wake a thread in accept()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    answer(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def _http(status: int) -> Answer:
    def answer(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(f"HTTP/1.0 {status} X\r\nContent-Length: 0\r\n\r\n".encode())

    return answer


def _reading_then(then: Answer) -> Answer:
    def answer(conn: socket.socket) -> None:
        conn.recv(4096)
        then(conn)

    return answer


@pytest.fixture
def http_200() -> Iterator[int]:
    yield from _serve(_http(200))


@pytest.fixture
def http_500() -> Iterator[int]:
    yield from _serve(_http(500))


@pytest.fixture
def garbage() -> Iterator[int]:
    yield from _serve(_reading_then(lambda conn: conn.sendall(b"SSH-2.0-hello\r\n")))


@pytest.fixture
def silent() -> Iterator[int]:
    yield from _serve(_reading_then(lambda conn: time.sleep(1)))  # reads, never answers


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL, 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there any more


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listener that never accepts, its queue already full: new SYNs are dropped."""
    listener = socket.socket()
    listener.bind((LOCAL, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex((LOCAL, port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def check(**fields: object) -> HealthCheckProbe:
    return HealthCheckProbe.model_validate(fields)


def test_refused_port_is_refused_with_its_errno(closed_port: int) -> None:
    result = probe(ProbeTarget(address=LOCAL, port=closed_port), 1.0)
    assert (result.verdict, result.tcp.error, result.tcp.errno) == (
        "refused",
        "refused",
        "ECONNREFUSED",
    )
    assert result.check is None


def test_a_listener_that_never_accepts_times_out(full_backlog: int) -> None:
    result = probe(ProbeTarget(address=LOCAL, port=full_backlog), 0.2)
    assert (result.verdict, result.tcp.errno) == ("timeout", "ETIMEDOUT")
    assert result.tcp.connect_ms is not None and result.tcp.connect_ms >= 150


def test_http_check_ok_and_unexpected_status(http_200: int, http_500: int) -> None:
    good = probe(ProbeTarget(address=LOCAL, port=http_200, check=check(url_path="/h")), 1.0)
    assert good.verdict == "ok"
    assert good.check is not None and (good.check.ok, good.check.status_code) == (True, 200)
    assert good.check.request == f"GET /h HTTP/1.0 -> {LOCAL}:{http_200}"
    bad = probe(ProbeTarget(address=LOCAL, port=http_500, check=check()), 1.0)
    assert bad.verdict == "unexpected_status" and bad.tcp.ok
    assert bad.check is not None
    assert (bad.check.status_code, bad.check.expected_codes) == (500, "200")
    assert bad.check.detail == "HTTP 500, expected 200"
    lenient = ProbeTarget(address=LOCAL, port=http_500, check=check(expected_codes="500-503"))
    assert probe(lenient, 1.0).verdict == "ok"


def test_check_failures_say_why(garbage: int, silent: int, closed_port: int) -> None:
    not_http = probe(ProbeTarget(address=LOCAL, port=garbage, check=check()), 1.0)
    assert not_http.verdict == "check_failed" and not_http.check is not None
    assert not_http.check.error == "protocol" and "SSH-2.0" in (not_http.check.detail or "")
    mute = probe(ProbeTarget(address=LOCAL, port=silent, check=check()), 0.2)
    assert mute.verdict == "check_failed" and mute.check is not None
    assert mute.check.error == "timeout"
    tls = probe(ProbeTarget(address=LOCAL, port=garbage, check=check(type="TLS-HELLO")), 1.0)
    assert tls.check is not None and tls.check.error in ("tls", "reset")
    # the check goes to the monitor port; the member's own port answers
    elsewhere = probe(
        ProbeTarget(address=LOCAL, port=garbage, monitor_port=closed_port, check=check()), 1.0
    )
    assert elsewhere.tcp.ok and elsewhere.check is not None
    assert elsewhere.check.error == "refused" and elsewhere.verdict == "check_failed"


def test_probe_all_keeps_the_order_and_bounds_concurrency(http_200: int, closed_port: int) -> None:
    targets = [ProbeTarget(address=LOCAL, port=p) for p in (http_200, closed_port) * 5]
    results = probe_all(targets, None, 1.0, concurrency=3)
    assert [r.verdict for r in results] == ["ok", "refused"] * 5


@pytest.mark.parametrize(
    ("codes", "status", "matches"),
    [("200", 200, True), ("200", 201, False), ("200,202", 202, True), ("200-204", 204, True),
     ("200-204", 205, False), ("200-399", 302, True)],
)  # fmt: skip
def test_expected_codes(codes: str, status: int, matches: bool) -> None:
    assert expected(codes, status) is matches


@pytest.fixture
def agent(short_tmp: Path) -> Iterator[TestClient]:
    app = create_agent_app(short_tmp / "state", haproxy_bin=Path("/nonexistent/haproxy"))
    with TestClient(app) as client:
        assert client.put("/v1/appliances/a1").status_code == 200
        yield client


def test_agent_route_tests_the_targets_given(agent: TestClient, closed_port: int) -> None:
    body = {"targets": [{"address": LOCAL, "port": closed_port, "member_id": "m1"}]}
    response = agent.post("/v1/appliances/a1/connectivity", json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["source"], report["netns"]) == ("request", None)
    assert report["results"][0]["verdict"] == "refused"
    assert report["results"][0]["target"]["member_id"] == "m1"


def test_agent_route_without_targets_needs_a_running_haproxy(agent: TestClient) -> None:
    response = agent.post("/v1/appliances/a1/connectivity")
    assert response.status_code == 409
    assert "HAProxy is not running" in response.json()["detail"]
    assert agent.post("/v1/appliances/nope/connectivity", json={}).status_code == 404
    assert agent.post("/v1/appliances/A..b/connectivity", json={}).status_code == 400


def test_agent_diagnostics_of_a_stopped_appliance_say_what_is_missing(agent: TestClient) -> None:
    response = agent.get("/v1/appliances/a1/diagnostics")
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["haproxy_running"] is False and found["info"] is None
    assert found["errors"]["info"] == "HAProxy is not running"
    assert found["errors"]["network"] == "the appliance runs in the host's network namespace"
    assert found["keepalived"] == {
        "configured": False, "running": False, "pid": None, "vrrp_state": None, "instances": [],
    }  # fmt: skip
    assert agent.get("/v1/appliances/nope/diagnostics").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"targets": [{"address": "fe80::1%eth0", "port": 80}]},
        {"targets": [{"address": "198.18.0.5", "port": "80"}]},
        {"targets": [{"address": "198.18.0.5", "port": 80, "check": {"url_path": "/\r\nX: y"}}]},
        {"targets": [{"address": "198.18.0.5", "port": 80}] * 257},
        {"targets": "198.18.0.5:80"},
        {"timeout_s": 1e9},
        {"concurrency": -1},
        {"command": "show sess"},
    ],
)
def test_agent_route_refuses_hostile_bodies(agent: TestClient, body: dict[str, object]) -> None:
    response = agent.post("/v1/appliances/a1/connectivity", json=body)
    assert response.status_code == 422, response.text

"""The operator's diagnostics endpoints against the database, with a fake agent service:
what the DB says is sent, unknown IDs are 404, a missing service is 503, and an agent that does
not answer is part of the answer rather than an error."""

import uuid
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.app import create_app
from steelyard.api.services import DiagnosticsUnavailable, Services
from steelyard.api.settings import ApiSettings
from steelyard.db.appliances import add_appliance
from steelyard.model.diagnostics import (
    ApplianceDiagnostics,
    ConnectivityReport,
    ConnectivityRequest,
    ProbeResult,
    StatLine,
    TcpResult,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

OP = "/v2/operator"
REFUSING_PORT = 8082


class FakeAgents:
    """Answers like an agent: every member refuses on REFUSING_PORT, the others accept."""

    def __init__(self) -> None:
        self.unreachable: set[str] = set()
        self.requests: list[tuple[str, ConnectivityRequest]] = []

    def appliance_diagnostics(self, appliance: str) -> ApplianceDiagnostics:
        if appliance in self.unreachable:
            raise DiagnosticsUnavailable("its agent does not answer (connection refused)")
        down = StatLine(proxy="p", name="m", type="server", status="DOWN",
                        address="198.18.0.7:8082", check_status="L4CON",
                        last_check="Connection refused")  # fmt: skip
        return ApplianceDiagnostics(appliance=appliance, netns=None, collected_at=datetime.now(),
                                    duration_ms=1.0, haproxy_running=True, generation=1,
                                    config_sha256=None, stats=[down])  # fmt: skip

    def connectivity(self, appliance: str, request: ConnectivityRequest) -> ConnectivityReport:
        if appliance in self.unreachable:
            raise DiagnosticsUnavailable("its agent does not answer (connection refused)")
        self.requests.append((appliance, request))
        results = [
            ProbeResult(target=t, verdict="refused",
                        tcp=TcpResult(ok=False, error="refused", errno="ECONNREFUSED"))
            if t.port == REFUSING_PORT
            else ProbeResult(target=t, verdict="ok", tcp=TcpResult(ok=True, connect_ms=0.2))
            for t in request.targets or []
        ]  # fmt: skip
        return ConnectivityReport(
            appliance=appliance,
            netns=None,
            source="request",
            timeout_s=request.timeout_s,
            duration_ms=1.0,
            results=results,
        )


@pytest.fixture
def agents() -> FakeAgents:
    return FakeAgents()


@pytest.fixture
def admin(sessions: sessionmaker[Session], agents: FakeAgents) -> Iterator[TestClient]:
    app = create_app(
        ApiSettings(auth="noauth"), sessions, lambda _: None, services=Services(diagnostics=agents)
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture
def without_service(sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(auth="noauth"), sessions, lambda _: None)) as client:
        yield client


def make_lb(admin: TestClient) -> dict[str, Any]:
    monitor = {"type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1,
               "url_path": "/health", "expected_codes": "200,204"}  # fmt: skip
    pool = {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "healthmonitor": monitor,
            "members": [{"address": "198.18.0.7", "protocol_port": 8081},
                        {"address": "198.18.0.7", "protocol_port": REFUSING_PORT}]}  # fmt: skip
    body = {"loadbalancer": {"project_id": "p1", "listeners": [
        {"protocol": "HTTP", "protocol_port": 80, "default_pool": pool}]}}  # fmt: skip
    response = admin.post("/v2/lbaas/loadbalancers", json=body)
    assert response.status_code == 201, response.text
    lb: dict[str, Any] = response.json()["loadbalancer"]
    return lb


def add(sessions: sessionmaker[Session], lb_id: str | None, slot: int) -> tuple[str, str]:
    ident, name = str(uuid.uuid4()), f"{uuid.uuid4().hex[:12]}-{slot}"
    with sessions.begin() as session:
        row = add_appliance(
            session,
            new_id=ident,
            name=name,
            lb_id=lb_id,
            slot=slot,
            role="MASTER" if slot == 0 else "BACKUP",
            host="h1",
            compute_driver="netns",
            zone=None,
            now=datetime(2026, 1, 1),
        )
        row.status = "ALLOCATED"
    return ident, name


def test_connectivity_sends_the_members_and_monitor_and_names_the_refusing_one(
    admin: TestClient, agents: FakeAgents, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb(admin)
    first, _ = add(sessions, lb["id"], 0)
    second, unreachable = add(sessions, lb["id"], 1)
    agents.unreachable.add(unreachable)
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/connectivity")
    assert response.status_code == 200, response.text
    found = response.json()["connectivity"]
    assert (found["members_tested"], found["members_not_tested"]) == (2, 0)
    (sent,) = agents.requests
    targets = sorted(sent[1].targets or [], key=lambda t: t.port)
    assert [(t.address, t.port) for t in targets] == [("198.18.0.7", 8081), ("198.18.0.7", 8082)]
    assert targets[0].check is not None
    assert (targets[0].check.url_path, targets[0].check.expected_codes) == ("/health", "200,204")
    members = admin.get(f"/v2/lbaas/pools/{lb['pools'][0]['id']}/members").json()["members"]
    refusing = next(m["id"] for m in members if m["protocol_port"] == REFUSING_PORT)
    by_code = {v["code"]: v for v in found["verdicts"]}
    assert set(by_code) == {"agent_unreachable", "member_refused", "summary"}
    assert by_code["member_refused"]["member_id"] == refusing
    assert by_code["member_refused"]["message"].startswith(
        f"member 198.18.0.7:8082 (id {refusing}) refuses connections (ECONNREFUSED)"
    )
    assert by_code["agent_unreachable"]["appliance_ids"] == [second]
    reach = {a["appliance_id"]: (a["reachable"], a["error"]) for a in found["appliances"]}
    assert reach == {
        first: (True, None),
        second: (False, "its agent does not answer (connection refused)"),
    }


def test_diagnostics_of_a_load_balancer_and_of_one_appliance(
    admin: TestClient, agents: FakeAgents, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb(admin)
    ident, _ = add(sessions, lb["id"], 0)
    response = admin.get(f"{OP}/loadbalancers/{lb['id']}/diagnostics")
    assert response.status_code == 200, response.text
    found = response.json()["diagnostics"]
    assert (found["loadbalancer_id"], found["project_id"]) == (lb["id"], "p1")
    (appliance,) = found["appliances"]
    assert (
        appliance["reachable"] and appliance["diagnostics"]["stats"][0]["check_status"] == "L4CON"
    )
    assert [v["code"] for v in found["verdicts"]] == ["member_down"]
    one = admin.get(f"{OP}/appliances/{ident}/diagnostics")
    assert one.status_code == 200, one.text
    body = one.json()["diagnostics"]
    assert (body["loadbalancer_id"], body["appliance"]["appliance_id"]) == (lb["id"], ident)
    spare, name = add(sessions, None, 0)
    agents.unreachable.add(name)
    alone = admin.get(f"{OP}/appliances/{spare}/diagnostics").json()["diagnostics"]
    assert alone["loadbalancer_id"] is None and alone["appliance"]["reachable"] is False
    assert [v["code"] for v in alone["verdicts"]] == ["agent_unreachable"]


HOSTILE_IDS = ("nope", str(uuid.uuid4()), "a" * 5000, "..%2f..%2fetc", "%0a", "' OR 1=1 --")


def test_unknown_ids_are_404(admin: TestClient) -> None:
    for ident in HOSTILE_IDS:
        for method, path in (
            ("GET", f"{OP}/loadbalancers/{ident}/diagnostics"),
            ("POST", f"{OP}/loadbalancers/{ident}/connectivity"),
            ("GET", f"{OP}/appliances/{ident}/diagnostics"),
        ):
            response = admin.request(method, path)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["faultcode"] == "Client"


def test_without_the_service_the_answer_is_503(
    without_service: TestClient, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb(without_service)
    ident, _ = add(sessions, lb["id"], 0)
    for method, path in (
        ("GET", f"{OP}/loadbalancers/{lb['id']}/diagnostics"),
        ("POST", f"{OP}/loadbalancers/{lb['id']}/connectivity"),
        ("GET", f"{OP}/appliances/{ident}/diagnostics"),
    ):
        response = without_service.request(method, path)
        assert response.status_code == 503
        assert response.json() == {
            "faultcode": "Server",
            "faultstring": "Diagnostics are not available in this process (it reaches no "
            "appliance agent).",
            "debuginfo": None,
        }


def test_a_load_balancer_without_members_or_appliances(admin: TestClient) -> None:
    response = admin.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {"project_id": "p1"}})
    lb_id = response.json()["loadbalancer"]["id"]
    tested = admin.post(f"{OP}/loadbalancers/{lb_id}/connectivity").json()["connectivity"]
    assert [v["code"] for v in tested["verdicts"]] == ["nothing_tested"]
    state = admin.get(f"{OP}/loadbalancers/{lb_id}/diagnostics").json()["diagnostics"]
    assert [v["code"] for v in state["verdicts"]] == ["no_appliances"]

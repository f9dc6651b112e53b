"""Flow and admin logs end to end without processes: agent records (an in-memory agent)
through the collector into SQLite, read back through the tenant and operator API with filters,
pagination and hostile values."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.agent.log_buffer import LogBuffer
from steelyard.agent.log_records import FlowRecord, LogBatch
from steelyard.db import models as m
from steelyard.telemetry.logs_collector import LogCollector
from steelyard.telemetry.logs_retention import Retention
from tests.unit.api.conftest import OTHER, Factory, Json, MakeClient

T0 = datetime(2026, 11, 26, 4, 0, 0, tzinfo=UTC)
LISTENER = "a0000000-0000-4000-8000-000000000001"


class FakeAgent:
    """The agent's buffer without the agent: what GET /v1/logs would answer."""

    def __init__(self) -> None:
        self.buffer = LogBuffer()

    def logs(self, after: int = 0, limit: int = 1000) -> LogBatch:
        return self.buffer.read(after, limit)

    def flow(self, appliance: str, second: int, status: int | None, client: str) -> None:
        record = FlowRecord(
            listener_id=LISTENER,
            client_address=client,
            client_port=40000 + second,
            accepted_at=T0 + timedelta(seconds=second),
            pool_id=None,
            member_id=None,
            status_code=status,
            bytes_in=10,
            bytes_out=20,
            time_request_ms=0,
            time_queue_ms=0,
            time_connect_ms=1,
            time_response_ms=2,
            time_total_ms=3,
            termination_state="----",
            http_method="GET",
            request_uri=f"/r{second}",
            http_version="HTTP/1.1",
        )
        self.buffer.add(appliance, "flow", record.accepted_at, "info", flow=record.values())


def add_appliance(sessions: sessionmaker[Session], name: str, lb_id: str) -> None:
    with sessions.begin() as session:
        session.add(
            m.Appliance(
                id=str(uuid.uuid4()),
                loadbalancer_id=lb_id,
                name=name,
                status="ALLOCATED",
                compute_driver="netns",
                host="h",
                vip_address="198.18.0.5",
                created_at=T0.replace(tzinfo=None),
            )
        )


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


@pytest.fixture
def world(
    sessions: sessionmaker[Session], make_lb: Factory, make_client: MakeClient
) -> tuple[Json, Json, LogCollector, FakeAgent]:
    mine = make_lb()
    theirs = make_lb(via=make_client(project=OTHER))
    add_appliance(sessions, "mine-0", mine["id"])
    add_appliance(sessions, "theirs-0", theirs["id"])
    agent = FakeAgent()
    collector = LogCollector(sessions, agent, lambda: T0.replace(tzinfo=None))
    for second, status in enumerate((200, 404, 503, 404, None)):
        agent.flow("mine-0", second, status, "198.51.100.7" if second % 2 else "203.0.113.9")
    agent.flow("theirs-0", 9, 404, "198.51.100.7")
    agent.flow("spare-0", 9, 404, "198.51.100.7")  # serves no load balancer: dropped
    agent.buffer.add("mine-0", "haproxy", T0, "alert", "Server x/y is DOWN")
    agent.buffer.add(None, "agent", T0, "info", "agent started")
    assert collector.poll_once() == 9
    return mine, theirs, collector, agent


def logs(client: TestClient, path: str, query: str = "") -> list[Json]:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["logs"]
    return items


def tenant_path(lb: Json) -> str:
    return f"/v2/lbaas/loadbalancers/{lb['id']}/logs"


def test_a_tenant_reads_its_flow_logs_with_filters(
    client: TestClient, world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    mine, _, collector, _ = world
    assert collector.counters.unowned_flows == 1
    every = logs(client, tenant_path(mine))
    assert [row["request_uri"] for row in every] == ["/r0", "/r1", "/r2", "/r3", "/r4"]
    first = every[0]
    assert first["created_at"] == "2026-11-26T04:00:00.000" and "appliance" not in first
    assert first["project_id"] == mine["project_id"] and first["listener_id"] == LISTENER
    assert [r["status_code"] for r in logs(client, tenant_path(mine), "status_code=404")] == [
        404,
        404,
    ]
    assert [r["status_code"] for r in logs(client, tenant_path(mine), "status_code=5xx")] == [503]
    by_client = logs(client, tenant_path(mine), "client_address=198.51.100.7")
    assert [r["request_uri"] for r in by_client] == ["/r1", "/r3"]
    window = "since=2026-11-26T04:00:01Z&until=2026-11-26T05:00:02%2B01:00"
    assert [r["request_uri"] for r in logs(client, tenant_path(mine), window)] == ["/r1", "/r2"]
    assert logs(client, tenant_path(mine), f"listener_id={uuid.uuid4()}") == []
    newest = logs(client, tenant_path(mine), "sort=created_at:desc&limit=2")
    assert [r["request_uri"] for r in newest] == ["/r4", "/r3"]


def test_pagination_follows_octavia(
    client: TestClient, world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    mine = world[0]
    response = client.get(tenant_path(mine) + "?limit=2")
    page = response.json()
    assert [r["request_uri"] for r in page["logs"]] == ["/r0", "/r1"]
    following = client.get(next(x["href"] for x in page["logs_links"] if x["rel"] == "next"))
    assert [r["request_uri"] for r in following.json()["logs"]] == ["/r2", "/r3"]


def test_another_projects_load_balancer_is_404(
    client: TestClient, world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    theirs = world[1]
    response = client.get(tenant_path(theirs))
    assert response.status_code == 404 and "faultstring" in response.json()
    assert client.get(f"/v2/lbaas/loadbalancers/{uuid.uuid4()}/logs").status_code == 404


HOSTILE_QUERIES = [
    "status_code=600",
    "status_code=4x",
    "status_code=404%0Afrontend",
    "status_code=" + "4" * 5000,
    "client_address=1.2.3.4%22",
    "client_address=not-an-ip",
    "listener_id=x'%20OR%201=1",
    "since=yesterday",
    "until=2026-13-01",
    "until=9999-12-31T23:59:59-23:59",  # past year 9999 in UTC
    "status_code=404&status_code=500",
    "marker=nonsense",
    "marker=99999999999999999999999999",
    "sort=request_uri%22",
    "limit=abc",
    "appliance=mine-0",  # not a filter of flow logs
    "page_reverse=maybe",
]


def test_hostile_queries_are_400_with_a_faultstring(
    client: TestClient, world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    for query in HOSTILE_QUERIES:
        response = client.get(tenant_path(world[0]) + "?" + query)
        assert response.status_code == 400, (query, response.text)
        body = response.json()
        assert set(body) == {"faultcode", "faultstring", "debuginfo"}
        assert "\n" not in body["faultstring"] and len(body["faultstring"]) < 400


def test_operators_see_the_appliance_and_the_admin_logs(
    admin: TestClient, world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    mine = world[0]
    flows = logs(admin, f"/v2/operator/loadbalancers/{mine['id']}/logs", "status_code=503")
    assert [(r["appliance"], r["request_uri"]) for r in flows] == [("mine-0", "/r2")]
    every = logs(admin, "/v2/operator/logs")
    assert [(r["source"], r["appliance"], r["loadbalancer_id"]) for r in every] == [
        ("haproxy", "mine-0", mine["id"]),
        ("agent", None, None),
    ]
    assert logs(admin, "/v2/operator/logs", "source=agent")[0]["message"] == "agent started"
    assert len(logs(admin, "/v2/operator/logs", f"loadbalancer_id={mine['id']}")) == 1
    assert len(logs(admin, "/v2/operator/logs", "appliance=mine-0&since=2026-11-26T04:00:00")) == 1
    for bad in ("source=kernel", "appliance=Mine_0", "loadbalancer_id=1", "until=x"):
        assert admin.get(f"/v2/operator/logs?{bad}").status_code == 400


def test_tenants_may_not_read_admin_logs(
    client: TestClient, world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    assert client.get("/v2/operator/logs").status_code == 403
    assert client.get(f"/v2/operator/loadbalancers/{world[0]['id']}/logs").status_code == 403


def test_retention_prunes_by_age_and_by_rows(
    sessions: sessionmaker[Session], world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    collector = world[2]
    collector.retention = Retention(timedelta(hours=1), max_rows=3)
    assert collector.prune_once() == 3  # 6 flow rows -> 3; 2 admin rows under both limits
    with sessions() as session:
        kept = [row.request_uri for row in session.query(m.FlowLog).order_by(m.FlowLog.id)]
    assert kept == ["/r3", "/r4", "/r9"]
    collector.clock = lambda: (T0 + timedelta(hours=2)).replace(tzinfo=None)
    assert collector.prune_once() == 5
    with sessions() as session:
        assert session.query(m.FlowLog).count() == 0 and session.query(m.AdminLog).count() == 0


def test_a_restarted_agent_is_read_from_its_start(
    sessions: sessionmaker[Session], world: tuple[Json, Json, LogCollector, FakeAgent]
) -> None:
    _, _, collector, agent = world
    agent.buffer = LogBuffer()  # a new epoch, numbered from 1 again
    agent.buffer.add(None, "agent", T0, "info", "agent started again")
    assert collector.poll_once() == 1
    with sessions() as session:
        messages: list[Any] = [row.message for row in session.query(m.AdminLog)]
    assert messages[-1] == "agent started again"


def test_records_the_agent_evicted_are_counted_across_its_restarts(
    world: tuple[Json, Json, LogCollector, FakeAgent],
) -> None:
    _, _, collector, agent = world
    for epoch in range(2):
        agent.buffer = LogBuffer(capacity=2)
        for second in range(5):
            agent.flow("mine-0", second, 200, "198.51.100.7")  # three evicted unread
        assert collector.poll_once() == 2
        assert collector.counters.agent_dropped == 3 * (epoch + 1)
    assert collector.poll_once() == 0
    assert collector.counters.agent_dropped == 6  # the same epoch's count is not added twice

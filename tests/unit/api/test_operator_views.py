"""GET /v2/operator/loadbalancers[/{id}] and GET /v2/operator/appliances: every project's
load balancers with the tenant's own view, their appliances, events, errors and health."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models as m
from steelyard.db.access import utcnow
from steelyard.db.appliances import add_appliance
from steelyard.db.events import record_event
from tests.unit.api.conftest import OTHER, Factory, MakeClient

T0 = datetime(2026, 11, 26, 2, 0, 0)
HOSTILE = ["nope", "00000000-0000-4000-8000-00000000abcd", "a%0Ab", "%22%27", "x" * 5000]
Json = dict[str, Any]


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


def _appliance(
    sessions: sessionmaker[Session],
    lb_id: str | None,
    slot: int,
    *,
    role: str = "STANDALONE",
    status: str = "ALLOCATED",
    host: str = "h1",
    heartbeat_s_ago: float | None = 0.5,
    applied: int = 1,
) -> str:
    ident = f"00000000-0000-4000-8000-{slot:012d}"
    with sessions.begin() as session:
        row = add_appliance(
            session,
            new_id=ident,
            name=f"{(lb_id or 'spare')[:8]}-{slot}",
            lb_id=lb_id,
            slot=slot,
            role=role,
            host=host,
            compute_driver="netns",
            zone=None,
            now=T0 + timedelta(seconds=slot),
        )
        row.status, row.applied_generation = status, applied
        row.config_sha256 = "ab" * 32
        row.agent_version, row.haproxy_version = "0.4.0", "2.6.12"
        if heartbeat_s_ago is not None:
            row.last_heartbeat_at = utcnow() - timedelta(seconds=heartbeat_s_ago)
        if status == "FAILED":
            row.failed_reason = "silent for 3.0 s"
    return ident


def _lb_columns(sessions: sessionmaker[Session], lb_id: str, **values: Any) -> None:
    with sessions.begin() as session:
        session.execute(update(m.LoadBalancer).where(m.LoadBalancer.id == lb_id).values(values))


def _member_status(sessions: sessionmaker[Session], member_id: str, status: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(m.Member).where(m.Member.id == member_id).values(operating_status=status)
        )


def test_the_operator_sees_the_tenant_object_and_what_is_behind_it(
    admin: TestClient,
    client: TestClient,
    make_stack: Any,
    make_member: Factory,
    sessions: sessionmaker[Session],
    settle: Any,
) -> None:
    stack = make_stack()
    lb_id, pool_id = stack["lb"]["id"], stack["pool"]["id"]
    down = make_member(pool_id, address="198.18.0.1", protocol_port=8081)
    settle()
    _lb_columns(sessions, lb_id, topology="ACTIVE_STANDBY", appliance_count=2,
                desired_generation=4, applied_generation=4)  # fmt: skip
    _appliance(sessions, lb_id, 0, role="MASTER", applied=4)
    _appliance(sessions, lb_id, 1, role="BACKUP", applied=4, heartbeat_s_ago=2.0)
    _member_status(sessions, stack["member"]["id"], "ONLINE")
    _member_status(sessions, down["id"], "ERROR")
    with sessions.begin() as session:
        for i in range(12):
            record_event(session, type="test.tick", severity="info", message=f"tick {i}",
                         loadbalancer_id=lb_id, now=T0 + timedelta(minutes=i))  # fmt: skip

    response = admin.get(f"/v2/operator/loadbalancers/{lb_id}")

    assert response.status_code == 200, response.text
    seen: Json = response.json()["loadbalancer"]
    tenant: Json = client.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
    assert {key: seen[key] for key in tenant} == tenant
    assert (seen["topology"], seen["desired_generation"], seen["applied_generation"]) == (
        "ACTIVE_STANDBY",
        4,
        4,
    )
    master, backup = seen["appliances"]
    assert (master["role"], master["vrrp_state"], master["status"]) == (
        "MASTER",
        "MASTER",
        "ALLOCATED",
    )
    assert master["config_in_sync"] is True and master["desired_generation"] == 4
    assert master["agent_version"] == "0.4.0" and master["haproxy_version"] == "2.6.12"
    assert master["project_id"] == "p-alpha" and master["host"] == "h1"
    assert 0 <= master["heartbeat_age_s"] < 5 and 1.5 <= backup["heartbeat_age_s"] < 10
    assert [e["message"] for e in seen["recent_events"]] == [f"tick {i}" for i in range(11, 1, -1)]
    assert seen["errors"] == {"last_error": None, "failed_attempts": 0, "next_attempt_at": None}
    health = seen["health"]
    assert health["status"] == "DEGRADED"
    assert health["summary"] == (
        f"2 of 2 appliances report heartbeats; MASTER is {master['name']}; "
        "1 of 2 members is down: 198.18.0.1:8081 (ERROR)"
    )
    fields = admin.get(f"/v2/operator/loadbalancers/{lb_id}?fields=id&fields=health").json()
    assert set(fields["loadbalancer"]) == {"id", "health"}


def test_a_failed_apply_shows_as_the_error_and_in_the_health(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    retry_at = datetime(2026, 11, 26, 4, 0, 5)
    _lb_columns(sessions, lb["id"], last_error="AgentApplyError: config refused (validate)",
                attempts=3, next_attempt_at=retry_at, provisioning_status="ERROR")  # fmt: skip
    _appliance(sessions, lb["id"], 0)

    seen = admin.get(f"/v2/operator/loadbalancers/{lb['id']}").json()["loadbalancer"]

    assert seen["errors"] == {
        "last_error": "AgentApplyError: config refused (validate)",
        "failed_attempts": 3,
        "next_attempt_at": "2026-11-26T04:00:05",
    }
    assert seen["health"]["status"] == "DEGRADED"
    assert (
        "last apply failed: AgentApplyError: config refused (validate)"
        in (seen["health"]["findings"])
    )


@pytest.mark.parametrize("lb_id", HOSTILE)
def test_unknown_load_balancers_are_404(admin: TestClient, lb_id: str) -> None:
    response = admin.get(f"/v2/operator/loadbalancers/{lb_id}")
    assert response.status_code == 404
    body = response.json()
    assert body["faultstring"].endswith("not found.") and body["debuginfo"] is None


def test_tenants_are_refused_even_for_their_own(make_client: MakeClient, make_lb: Factory) -> None:
    lb = make_lb()
    for roles in ("member", "reader", "load-balancer_global_observer"):
        tenant = make_client(roles=roles)
        for path in (f"/v2/operator/loadbalancers/{lb['id']}", "/v2/operator/loadbalancers",
                     "/v2/operator/appliances"):  # fmt: skip
            assert tenant.get(path).status_code == 403, (roles, path)


def test_the_list_spans_projects_filters_and_counts_appliances(
    admin: TestClient, make_client: MakeClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    ours = make_lb(name="web")
    theirs = make_lb(via=make_client(project=OTHER), name="api")
    _appliance(sessions, ours["id"], 0)
    _appliance(sessions, ours["id"], 1, status="FAILED")
    _appliance(sessions, ours["id"], 2, status="RETIRING")

    listed = admin.get("/v2/operator/loadbalancers").json()
    by_id = {lb["id"]: lb for lb in listed["loadbalancers"]}
    assert set(by_id) == {ours["id"], theirs["id"]} and listed["loadbalancers_links"] == []
    assert by_id[ours["id"]]["appliance_counts"] == {
        "expected": 1,
        "total": 3,
        "by_status": {"ALLOCATED": 1, "ERROR": 1, "PENDING_DELETE": 1},
    }
    assert by_id[theirs["id"]]["appliance_counts"]["total"] == 0
    assert by_id[theirs["id"]]["topology"] == "SINGLE"

    only = admin.get(f"/v2/operator/loadbalancers?project_id={OTHER}").json()["loadbalancers"]
    assert [lb["id"] for lb in only] == [theirs["id"]]
    named = admin.get("/v2/operator/loadbalancers?name=web&fields=id").json()["loadbalancers"]
    assert named == [{"id": ours["id"]}]
    first = admin.get("/v2/operator/loadbalancers?limit=1&sort=name:asc").json()
    assert [lb["name"] for lb in first["loadbalancers"]] == ["api"]
    assert first["loadbalancers_links"][0]["rel"] == "next"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("bogus=1", 400),
        ("limit=abc", 400),
        ("sort=nope", 400),
        ("marker=00000000-0000-4000-8000-00000000abcd", 400),
        ("project_id=%0A%22%27", 200),
        ("name=" + "x" * 5000, 200),
        ("tags=a%0Ab", 400),
    ],
)
def test_hostile_list_parameters(
    admin: TestClient, make_lb: Factory, query: str, status: int
) -> None:
    make_lb()
    for path in ("/v2/operator/loadbalancers", "/v2/operator/appliances"):
        response = admin.get(f"{path}?{query}")
        assert response.status_code == status, (path, query, response.text)
        if status == 200:
            assert next(iter(response.json().values())) == []
        else:
            assert response.json()["faultstring"]


def test_appliances_filter_by_load_balancer_project_host_status_and_role(
    admin: TestClient, make_client: MakeClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    ours = make_lb()
    theirs = make_lb(via=make_client(project=OTHER))
    a0 = _appliance(sessions, ours["id"], 0, role="MASTER")
    a1 = _appliance(sessions, ours["id"], 1, role="BACKUP", status="FAILED", host="h2")
    b0 = _appliance(sessions, theirs["id"], 2)
    spare = _appliance(sessions, None, 3, status="READY", heartbeat_s_ago=None, applied=0)

    def ids(query: str) -> list[str]:
        response = admin.get(f"/v2/operator/appliances?{query}")
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["appliances"]]

    assert ids("") == [a0, a1, b0, spare]
    assert ids(f"loadbalancer_id={ours['id']}") == [a0, a1]
    assert ids(f"project_id={OTHER}") == [b0]
    assert ids(f"project_id={OTHER}&project_id=p-alpha") == [a0, a1, b0]
    assert ids("host=h2") == [a1]
    assert ids("status=ERROR") == [a1]  # Octavia's word for a failed appliance
    assert ids("status=READY") == [spare]
    assert ids("role=BACKUP") == [a1]
    assert ids("status=ALLOCATED&role=MASTER") == [a0]
    shown = admin.get("/v2/operator/appliances?status=READY").json()["appliances"][0]
    assert (shown["project_id"], shown["desired_generation"], shown["config_in_sync"]) == (
        None,
        None,
        None,
    )
    assert shown["heartbeat_age_s"] is None
    page = admin.get("/v2/operator/appliances?limit=2").json()
    assert [a["id"] for a in page["appliances"]] == [a0, a1]
    after = admin.get(page["appliances_links"][0]["href"]).json()
    assert [a["id"] for a in after["appliances"]] == [b0, spare]

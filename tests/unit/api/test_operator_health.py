"""GET /v2/operator/health and DELETE /v2/operator/health/circuit_breaker (admins only)."""

import uuid
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models as m
from steelyard.db.appliance_health import save_manager_status, trip_breaker
from steelyard.model.health import HeartbeatCounts, ManagerStatus
from tests.unit.api.conftest import MakeClient

HEALTH = "/v2/operator/health"
BREAKER = f"{HEALTH}/circuit_breaker"
T0 = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


def add_appliance(sessions: sessionmaker[Session], status: str) -> None:
    with sessions.begin() as session:
        name = uuid.uuid4().hex[:12] + "-0"
        session.add(
            m.Appliance(
                id=str(uuid.uuid4()),
                name=name,
                status=status,
                compute_driver="netns",
                host="h",
                vip_address="198.18.0.9",
                created_at=T0,
            )
        )


def test_a_fresh_deployment_reports_nothing_tripped(admin: TestClient) -> None:
    response = admin.get(HEALTH)
    assert response.status_code == 200, response.text
    health = response.json()["health"]
    assert health["circuit_breaker"]["tripped"] is False
    assert health["heartbeats"] == dict.fromkeys(
        ("accepted", "forged", "replayed", "unknown", "oversized", "malformed"), 0
    )
    assert health["appliances"] == {"watched": 0, "silent": 0, "failed": 0}
    assert health["managers"] == []


def test_counts_are_summed_over_managers_and_appliances_counted(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    for status in ("ALLOCATED", "ALLOCATED", "READY", "FAILED", "DELETED", "BOOTING"):
        add_appliance(sessions, status)
    with sessions.begin() as session:
        for index, (accepted, forged) in enumerate([(10, 1), (5, 2)]):
            save_manager_status(
                session,
                ManagerStatus(
                    manager=f"m{index}",
                    listen="0.0.0.0:5555",
                    updated_at=T0.replace(second=index),
                    heartbeats=HeartbeatCounts(accepted=accepted, forged=forged, replayed=3),
                    watched=3,
                    silent=index,
                ),
            )
    health = admin.get(HEALTH).json()["health"]
    assert health["heartbeats"]["accepted"] == 15
    assert (health["heartbeats"]["forged"], health["heartbeats"]["replayed"]) == (3, 6)
    assert health["appliances"] == {"watched": 2, "silent": 1, "failed": 1}  # spares: not
    assert [manager["manager"] for manager in health["managers"]] == ["m1", "m0"]


def test_release_resumes_failover_and_is_recorded(
    admin: TestClient, sessions: sessionmaker[Session], notified: list[str]
) -> None:
    assert admin.delete(BREAKER).status_code == 409
    with sessions.begin() as session:
        trip_breaker(session, ["a-0", "b-0", "c-0"], 4, T0)
    breaker = admin.get(HEALTH).json()["health"]["circuit_breaker"]
    assert (breaker["tripped"], breaker["silent"], breaker["watched"]) == (True, 3, 4)
    assert "3 of 4" in breaker["reason"]

    response = admin.delete(BREAKER)
    assert response.status_code == 204, response.text
    breaker = admin.get(HEALTH).json()["health"]["circuit_breaker"]
    assert breaker["tripped"] is False and breaker["released_at"] is not None
    conflict = admin.delete(BREAKER)
    assert conflict.status_code == 409
    assert conflict.json() == {
        "faultcode": "Client",
        "faultstring": "The health circuit breaker is not tripped.",
        "debuginfo": None,
    }
    with sessions() as session:
        kinds = session.scalars(select(m.Event.type).order_by(m.Event.created_at)).all()
    assert kinds == ["health.circuit_breaker.tripped", "health.circuit_breaker.released"]
    assert notified == []


@pytest.mark.parametrize("roles", [None, "member", "reader", "load-balancer_global_observer"])
def test_only_admins_may_see_or_release(
    make_client: MakeClient, sessions: sessionmaker[Session], roles: str | None
) -> None:
    with sessions.begin() as session:
        trip_breaker(session, ["a-0", "b-0", "c-0"], 3, T0)
    tenant = make_client(roles=roles)
    for method, path in [("GET", HEALTH), ("DELETE", BREAKER)]:
        response = tenant.request(method, path)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["faultstring"].startswith("Policy does not allow")
    with sessions() as session:
        assert session.get_one(m.DeploymentSetting, "health.circuit_breaker").value["tripped"]


def test_release_ignores_a_body_and_unknown_paths_are_not_found(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        trip_breaker(session, ["a-0", "b-0", "c-0"], 3, T0)
    assert admin.delete(f"{BREAKER}/x").status_code == 404
    assert admin.put(BREAKER, json={"tripped": False}).status_code == 405
    assert admin.get(HEALTH).json()["health"]["circuit_breaker"]["tripped"] is True
    response = admin.request("DELETE", BREAKER, content=b'{"x": "\n' + b"a" * 100_000 + b'"}')
    assert response.status_code == 204

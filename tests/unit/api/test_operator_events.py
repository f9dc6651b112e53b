"""The event log: GET /v2/operator/events for admins, GET .../loadbalancers/{id}/events for
the load balancer's project."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db.events import record_event
from tests.unit.api.conftest import OTHER, PROJECT, Factory, Json, MakeClient

EVENTS = "/v2/operator/events"
T0 = datetime(2026, 3, 1, 12, 0, 0)
Record = Callable[..., str]


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


@pytest.fixture
def record(sessions: sessionmaker[Session]) -> Record:
    """What the status observer does: record an event at minute `at` after T0."""

    def add(at: int = 0, **fields: Any) -> str:
        with sessions.begin() as session:
            return record_event(
                session,
                **{"type": "protection.breach", "severity": "warning", "message": "m", **fields},
                now=T0 + timedelta(minutes=at),
            )

    return add


def events(client: TestClient, query: str = "", path: str = EVENTS) -> list[Json]:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["events"]
    return items


def test_operator_actions_are_recorded(
    admin: TestClient, make_lb: Factory, make_listener: Factory
) -> None:
    lb = make_lb()
    make_listener(lb["id"])
    path = f"/v2/operator/loadbalancers/{lb['id']}"

    admin.put(f"{path}/under_attack", json={"under_attack": True})
    admin.put(f"{path}/protection", json={"protection": {"max_connections": 5}})
    admin.delete(f"{path}/protection")
    admin.put("/v2/operator/protection/defaults", json={"protection": {"max_connections": 9}})

    found = events(admin)
    assert [(e["type"], e["severity"], e["message"]) for e in found] == [
        ("protection.under_attack", "warning", "Under-attack profile switched on"),
        ("protection.override", "info", "Protection override set"),
        ("protection.override", "info", "Protection override removed"),
        ("protection.defaults", "info", "Protection defaults changed"),
    ]
    assert [e["loadbalancer_id"] for e in found] == [lb["id"]] * 3 + [None]
    assert [e["project_id"] for e in found] == [PROJECT] * 3 + [None]
    assert found[1]["details"] == {"protection": {"max_connections": 5}}
    assert found[3]["details"] == {"protection": {"max_connections": 9}, "loadbalancers": 1}


def test_filters_since_sorting_and_pages(
    admin: TestClient, make_lb: Factory, record: Record
) -> None:
    lb = make_lb()
    listener_id = "0f5d2a4c-0000-4000-8000-000000000001"
    first = record(at=0, loadbalancer_id=lb["id"], listener_id=listener_id)
    second = record(at=1, type="appliance.failover", severity="critical")
    third = record(at=2, loadbalancer_id=lb["id"], severity="info", details={"sources": 3})

    assert [e["id"] for e in events(admin)] == [first, second, third]
    assert [e["id"] for e in events(admin, "sort=created_at:desc")] == [third, second, first]
    assert [e["id"] for e in events(admin, "type=protection.breach")] == [first, third]
    assert [e["id"] for e in events(admin, "severity=critical&severity=info")] == [second, third]
    assert [e["id"] for e in events(admin, f"loadbalancer_id={lb['id']}")] == [first, third]
    assert [e["id"] for e in events(admin, f"project_id={PROJECT}")] == [first, third]
    assert [e["id"] for e in events(admin, f"listener_id={listener_id}")] == [first]
    assert [e["id"] for e in events(admin, "since=2026-03-01T12:01:00")] == [second, third]
    assert [e["id"] for e in events(admin, "since=2026-03-01T13:01:00%2B01:00")] == [second, third]
    assert [e["id"] for e in events(admin, "since=2026-03-01T12:01:00Z&severity=info")] == [third]
    assert events(admin, f"id={third}")[0]["details"] == {"sources": 3}

    page = admin.get(f"{EVENTS}?limit=2").json()
    assert [e["id"] for e in page["events"]] == [first, second]
    [after] = page["events_links"]
    assert after["rel"] == "next" and f"marker={second}" in after["href"]
    rest = admin.get(f"{EVENTS}?limit=2&marker={second}").json()
    assert [e["id"] for e in rest["events"]] == [third]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("since=yesterday", "Invalid value yesterday for since."),
        ("since=2026-13-01", "for since"),
        ("colour=red", "invalid"),
        ("sort=message", "sort key"),
        ("marker=nope", "marker"),
    ],
)
def test_bad_queries(admin: TestClient, record: Record, query: str, fragment: str) -> None:
    record()

    response = admin.get(f"{EVENTS}?{query}")

    assert response.status_code == 400
    assert fragment in response.json()["faultstring"]


def test_a_project_reads_the_events_of_its_own_load_balancers(
    make_client: MakeClient, make_lb: Factory, client: TestClient, record: Record
) -> None:
    mine = make_lb()
    stranger = make_client(project=OTHER)
    theirs = make_lb(via=stranger)
    own = record(at=0, loadbalancer_id=mine["id"])
    record(at=1, loadbalancer_id=theirs["id"])
    record(at=2)
    path = f"/v2/lbaas/loadbalancers/{mine['id']}/events"

    assert [e["id"] for e in events(client, path=path)] == [own]
    reader = make_client(roles="reader")
    assert [e["id"] for e in events(reader, "since=2026-03-01T12:00:00", path=path)] == [own]
    assert events(client, "since=2026-03-01T12:00:01", path=path) == []
    assert stranger.get(path).status_code == 404
    assert client.get(f"/v2/lbaas/loadbalancers/{theirs['id']}/events").status_code == 404
    assert client.get(EVENTS).status_code == 403

"""GET /v2/operator/usage and GET /v2/octavia/amphorae/{id}/stats: shapes, sums, and hostile
query values answered with Octavia's 400 body, never a 5xx."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from steelyard.db import models
from steelyard.db.appliances import add_appliance

Factory = Callable[..., dict[str, Any]]
USAGE = "/v2/operator/usage"


def record(session: Session, lb_id: str, project: str, hour: int, seconds: int, moved: int) -> None:
    session.add(
        models.UsageRecord(
            loadbalancer_id=lb_id, hour=datetime(2026, 3, 1, hour), project_id=project,
            seconds=seconds, bytes_in=moved, bytes_out=2 * moved, updated_at=datetime(2026, 3, 2),
        )
    )  # fmt: skip


def test_usage_per_project_and_load_balancer_over_whole_hours(
    make_client: Callable[..., TestClient], sessions: sessionmaker[Session]
) -> None:
    gone, kept, other = (str(uuid.uuid4()) for _ in range(3))
    with sessions.begin() as session:
        record(session, gone, "p1", 10, 1800, 100)  # deleted since: its records stay
        record(session, kept, "p1", 10, 3600, 5)
        record(session, kept, "p1", 11, 3600, 7)
        record(session, kept, "p1", 12, 3600, 1000)  # after the range
        record(session, other, "p2", 10, 900, 1)
    admin = make_client(project=None)
    response = admin.get(USAGE, params={"start": "2026-03-01T10:00:00Z", "end": "2026-03-01T12:00"})
    assert response.status_code == 200
    usage = response.json()["usage"]
    assert (usage["start"], usage["end"]) == ("2026-03-01T10:00:00", "2026-03-01T12:00:00")
    p1, p2 = usage["projects"]
    assert (p1["project_id"], p1["loadbalancer_hours"], p1["bytes_in"], p1["bytes_out"]) == (
        "p1", 2.5, 112, 224,
    )  # fmt: skip
    by_lb = {lb["loadbalancer_id"]: lb for lb in p1["loadbalancers"]}
    assert (by_lb[gone]["loadbalancer_hours"], by_lb[kept]["bytes_in"]) == (0.5, 12)
    assert (p2["project_id"], p2["loadbalancer_hours"]) == ("p2", 0.25)
    only = admin.get(USAGE, params={"project_id": "p2", "start": "2026-03-01T00:00:00"}).json()
    assert [p["project_id"] for p in only["usage"]["projects"]] == ["p2"]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "yesterday"},
        {"start": "2026-03-01T10:00:00\n"},
        {"end": "2026-13-01"},
        {"start": "2026-03-02", "end": "2026-03-01"},  # backwards
        {"start": "2026-03-01", "end": "2026-03-01"},  # empty
        {"start": "2000-01-01", "end": "2026-01-01"},  # over a year
        {"start": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"end": "9999-12-31T23:00:00-02:00"},  # after year 9999 in UTC
        {"project_id": "p" * 256},
        {"project_id": ""},
    ],
)
def test_hostile_usage_queries_are_bad_requests(
    params: dict[str, str], make_client: Callable[..., TestClient]
) -> None:
    response = make_client(project=None).get(USAGE, params=params)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"faultcode", "faultstring", "debuginfo"}


def test_a_strange_project_id_finds_nothing(make_client: Callable[..., TestClient]) -> None:
    response = make_client(project=None).get(USAGE, params={"project_id": "x'\n\"; --"})
    assert response.status_code == 200 and response.json()["usage"]["projects"] == []


def test_amphora_stats_per_listener_in_octavias_shape(
    make_lb: Factory,
    make_listener: Factory,
    make_client: Callable[..., TestClient],
    sessions: sessionmaker[Session],
) -> None:
    lb = make_lb()
    first, second = make_listener(lb["id"]), make_listener(lb["id"], protocol_port=81)
    amphora = str(uuid.uuid4())
    with sessions.begin() as session:
        add_appliance(
            session, new_id=amphora, name="amp-0", lb_id=lb["id"], slot=0, role="STANDALONE",
            host="h1", compute_driver="process", zone=None, now=datetime(2026, 1, 1),
        )  # fmt: skip
        session.add(
            models.ApplianceListenerStats(
                appliance_id=amphora, listener_id=first["id"], loadbalancer_id=lb["id"],
                bytes_in=10, bytes_out=20, active_connections=1, total_connections=3,
                request_errors=2, updated_at=datetime(2026, 1, 1),
            )
        )  # fmt: skip
    admin = make_client(project=None)
    response = admin.get(f"/v2/octavia/amphorae/{amphora}/stats")
    assert response.status_code == 200
    stats = {entry["listener_id"]: entry for entry in response.json()["amphora_stats"]}
    assert stats[first["id"]] == {
        "id": amphora, "loadbalancer_id": lb["id"], "listener_id": first["id"],
        "active_connections": 1, "bytes_in": 10, "bytes_out": 20, "request_errors": 2,
        "total_connections": 3,
    }  # fmt: skip
    assert stats[second["id"]]["total_connections"] == 0  # nothing reported yet
    for hostile in ("nope", "%0A", "a" * 300):
        missing = admin.get(f"/v2/octavia/amphorae/{hostile}/stats")
        assert missing.status_code == 404 and "faultstring" in missing.json()

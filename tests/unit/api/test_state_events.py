"""State-change events (db/state_events.py) as the reconciler and the status writers record
them, and what the load balancer's tenant sees of them; threshold alarms with hysteresis
(telemetry/thresholds.py). Objects are made through the tenant API on a real SQLite file."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models as m
from steelyard.db.operating import ObservedStatuses, write_statuses
from steelyard.db.outcomes import ERROR_AFTER_ATTEMPTS, record_failure, record_snapshot_applied
from steelyard.db.snapshot import load_snapshot
from steelyard.model.enums import OperatingStatus as S
from steelyard.telemetry.thresholds import Band, ThresholdWatcher, crossing
from tests.unit.api.conftest import Factory, MakeClient

T0 = datetime(2026, 3, 1, 12, 0, 0)
Json = dict[str, Any]


@pytest.fixture
def tree(
    make_lb: Factory, make_listener: Factory, make_pool: Factory, make_member: Factory
) -> Json:
    lb = make_lb(name="web")
    listener = make_listener(lb["id"], connection_limit=100)
    pool = make_pool(listener_id=listener["id"], name="app")
    members = [
        make_member(pool["id"], address="192.0.2.10", protocol_port=8080),
        make_member(pool["id"], address="2001:db8::5", protocol_port=8081),
    ]
    return {"lb": lb, "listener": listener, "pool": pool, "members": members}


def events(sessions: sessionmaker[Session], type_: str | None = None) -> list[m.Event]:
    with sessions() as session:
        query = select(m.Event).order_by(m.Event.created_at, m.Event.id)
        if type_ is not None:
            query = query.where(m.Event.type == type_)
        return list(session.scalars(query))


def apply(sessions: sessionmaker[Session], lb_id: str, now: datetime = T0) -> None:
    with sessions.begin() as session:
        snap = load_snapshot(session, lb_id)
        assert snap is not None
        record_snapshot_applied(session, lb_id, snap, now)


def observe(sessions: sessionmaker[Session], tree: Json, member: S, pool: S, now: datetime) -> None:
    seen = ObservedStatuses(
        loadbalancer=S.ONLINE,
        listeners={tree["listener"]["id"]: S.ONLINE},
        pools={tree["pool"]["id"]: pool},
        members={tree["members"][0]["id"]: member, tree["members"][1]["id"]: S.ONLINE},
        healthmonitors={},
    )
    with sessions.begin() as session:
        write_statuses(session, tree["lb"]["id"], seen, now)


def test_an_apply_makes_one_active_event_with_what_it_activated(
    sessions: sessionmaker[Session], tree: Json
) -> None:
    apply(sessions, tree["lb"]["id"])
    apply(sessions, tree["lb"]["id"])  # nothing was pending: no second event
    (active,) = events(sessions, "loadbalancer.provisioning.active")
    assert active.loadbalancer_id == tree["lb"]["id"] and active.project_id == "p-alpha"
    assert active.details["from"] == "PENDING_CREATE"
    assert active.details["activated"] == {"listeners": 1, "pools": 1, "members": 2}


def test_every_operating_status_change_is_one_event_naming_the_member(
    sessions: sessionmaker[Session], tree: Json
) -> None:
    apply(sessions, tree["lb"]["id"])
    observe(sessions, tree, S.ONLINE, S.ONLINE, T0)
    before = len(events(sessions))
    observe(sessions, tree, S.ONLINE, S.ONLINE, T0 + timedelta(seconds=1))  # no change
    assert len(events(sessions)) == before
    observe(sessions, tree, S.ERROR, S.DEGRADED, T0 + timedelta(seconds=2))
    down = events(sessions, "member.operating_status")[-1]
    assert down.severity == "warning"
    assert down.message == "member 192.0.2.10:8080 is ERROR (was ONLINE)"
    assert down.details["address"] == "192.0.2.10" and down.details["protocol_port"] == 8080
    assert down.details["pool_id"] == tree["pool"]["id"]
    pool = events(sessions, "pool.operating_status")[-1]
    assert (pool.severity, pool.details["from"], pool.details["to"]) == (
        "warning", "ONLINE", "DEGRADED",
    )  # fmt: skip
    first = events(sessions, "member.operating_status")
    v6 = [e for e in first if e.details["address"] == "2001:db8::5"]
    assert v6 and v6[0].message.startswith("member [2001:db8::5]:8081 is ONLINE")
    observe(sessions, tree, S.ERROR, S.ERROR, T0 + timedelta(seconds=3))
    assert events(sessions, "pool.operating_status")[-1].severity == "critical"


def test_failed_applies_keep_the_error_for_operators_only(
    sessions: sessionmaker[Session], tree: Json, make_client: MakeClient, client: TestClient
) -> None:
    lb_id = tree["lb"]["id"]
    error = "AgentError: haproxy -c: /var/lib/steelyard/agent/host-7/haproxy.cfg:12 bad"
    for attempt in range(ERROR_AFTER_ATTEMPTS + 1):
        with sessions.begin() as session:
            record_failure(session, lb_id, error, T0 + timedelta(seconds=attempt))
    failed = events(sessions, "loadbalancer.apply_failed")
    assert len(failed) == 1  # the same error again is not news
    assert failed[0].operator_details == {"error": error}
    assert "host-7" not in failed[0].message
    (went,) = events(sessions, "loadbalancer.provisioning.error")
    assert went.severity == "critical"
    apply(sessions, lb_id, T0 + timedelta(minutes=1))
    assert events(sessions, "loadbalancer.provisioning.active")[-1].details["from"] == "ERROR"

    tenant = client.get(f"/v2/lbaas/loadbalancers/{lb_id}/events")
    assert tenant.status_code == 200 and "host-7" not in tenant.text
    assert "operator_details" not in tenant.json()["events"][0]
    admin = make_client(project=None).get(f"/v2/operator/events?loadbalancer_id={lb_id}")
    assert "host-7" in admin.text


def test_hysteresis_is_pure() -> None:
    band = Band(0.8, 0.6)
    assert crossing(False, 0.79, band) is None
    assert crossing(False, 0.8, band) is True
    assert crossing(True, 0.7, band) is None  # between the two: stays raised
    assert crossing(True, 0.59, band) is False
    assert crossing(False, 0.7, band) is None


def set_active(sessions: sessionmaker[Session], tree: Json, active: int, now: datetime) -> None:
    with sessions.begin() as session:
        row = session.get(m.ListenerStats, tree["listener"]["id"])
        if row is None:
            row = m.ListenerStats(
                listener_id=tree["listener"]["id"], loadbalancer_id=tree["lb"]["id"]
            )
            session.add(row)
        row.active_connections, row.updated_at = active, now


def test_a_connection_crossing_is_one_event_each_way(
    sessions: sessionmaker[Session], tree: Json
) -> None:
    clock = {"now": T0}
    watcher = ThresholdWatcher(sessions, lambda: clock["now"], default_limit=5000)
    readings = [10, 85, 85, 90, 95, 70, 85, 50, 50, 55]  # of the listener's limit of 100
    for second, active in enumerate(readings):
        clock["now"] = T0 + timedelta(seconds=second)
        set_active(sessions, tree, active, clock["now"])
        watcher.evaluate()
    alarms = events(sessions, "listener.connections.high")
    clears = events(sessions, "listener.connections.normal")
    assert [e.details["active_connections"] for e in alarms] == [85]  # held two passes
    assert [e.details["active_connections"] for e in clears] == [50]
    assert alarms[0].listener_id == tree["listener"]["id"] and alarms[0].severity == "warning"
    assert "85 active connections, 85% of its connection limit (100)" in alarms[0].message

    restarted = ThresholdWatcher(sessions, lambda: clock["now"], default_limit=5000)
    for _ in range(3):
        restarted.evaluate()  # seeded from the log: still cleared, nothing new
    assert len(events(sessions, "listener.connections.normal")) == 1


def test_stale_counters_say_nothing(sessions: sessionmaker[Session], tree: Json) -> None:
    watcher = ThresholdWatcher(sessions, lambda: T0 + timedelta(minutes=5), default_limit=5000)
    set_active(sessions, tree, 99, T0)
    watcher.evaluate()
    watcher.evaluate()
    assert events(sessions, "listener.connections.high") == []


def test_a_pool_without_a_healthy_member_alarms_once(
    sessions: sessionmaker[Session], tree: Json
) -> None:
    apply(sessions, tree["lb"]["id"])
    with sessions.begin() as session:
        session.get_one(m.LoadBalancer, tree["lb"]["id"]).applied_generation = 1
    watcher = ThresholdWatcher(sessions, lambda: T0, default_limit=5000)
    some, none = (S.ONLINE, S.ERROR), (S.ERROR, S.ERROR)
    for first, second in [some] * 2 + [none] * 3 + [some] * 2:
        _members(sessions, tree, first, second)
        watcher.evaluate()
    (down,) = events(sessions, "pool.no_healthy_member")
    assert down.severity == "critical" and down.details["enabled_members"] == 2
    (back,) = events(sessions, "pool.healthy_member_back")
    assert back.details["healthy_members"] == 1


def _members(sessions: sessionmaker[Session], tree: Json, first: S, second: S) -> None:
    with sessions.begin() as session:
        for member, status in zip(tree["members"], (first, second), strict=True):
            session.get_one(m.Member, member["id"]).operating_status = status.value

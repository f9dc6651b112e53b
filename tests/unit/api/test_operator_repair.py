"""Repair actions and hosts of the operator API: POST /v2/operator/loadbalancers/{id}/
failover|resync|migrate|resize, GET /v2/operator/hosts, POST .../hosts/{name}/drain|undrain.
The database side only (the reconciler's part is in tests/e2e/test_repair.py)."""

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models as m
from steelyard.db.appliances import add_appliance
from steelyard.db.hosts import placement_candidates, sync_hosts
from steelyard.db.repair import complete_repairs, haproxy_threads
from steelyard.model.repair import HostDeclaration
from tests.unit.api.conftest import Factory, MakeClient

T0 = datetime(2026, 11, 26, 5, 0, 0)
OP = "/v2/operator"
HOSTILE = ["a\nb", "'\"", "x" * 5000, "../etc", "", " a", "a;b", "ü"]


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


@pytest.fixture
def hosts(sessions: sessionmaker[Session]) -> list[str]:
    declared = [
        HostDeclaration("a", None, "rack1"),
        HostDeclaration("b", 2, "rack1"),
        HostDeclaration("c", None, "rack2"),
    ]
    with sessions.begin() as session:
        sync_hosts(session, declared, T0)
    return ["a", "b", "c"]


def _pair(sessions: sessionmaker[Session], lb_id: str, *hosts: str) -> list[str]:
    names = []
    with sessions.begin() as session:
        for slot, host in enumerate(hosts):
            row = add_appliance(
                session, new_id=str(uuid.uuid4()), name=f"{lb_id[:12]}-{slot}", lb_id=lb_id,
                slot=slot, role="MASTER" if slot == 0 else "BACKUP", host=host,
                compute_driver="netns", zone=None, now=T0,
            )  # fmt: skip
            row.status = "ALLOCATED"
            names.append(row.name)
    return names


def _statuses(sessions: sessionmaker[Session], lb_id: str) -> dict[str, str]:
    with sessions() as session:
        rows = session.scalars(select(m.Appliance).where(m.Appliance.loadbalancer_id == lb_id))
        return {r.name: r.status for r in rows}


def _lb_row(sessions: sessionmaker[Session], lb_id: str) -> m.LoadBalancer:
    with sessions() as session:
        row = session.get_one(m.LoadBalancer, lb_id)
        session.expunge(row)
        return row


def _flavor(admin: TestClient, **data: Any) -> str:
    profile = admin.post(
        "/v2/lbaas/flavorprofiles",
        json={"flavorprofile": {"name": "p", "provider_name": "appliance",
                                "flavor_data": json.dumps(data)}},
    )  # fmt: skip
    assert profile.status_code == 201, profile.text
    flavor = admin.post(
        "/v2/lbaas/flavors",
        json={"flavor": {"name": f"f{uuid.uuid4().hex[:6]}",
                         "flavor_profile_id": profile.json()["flavorprofile"]["id"]}},
    )  # fmt: skip
    assert flavor.status_code == 201, flavor.text
    return str(flavor.json()["flavor"]["id"])


def _zone(admin: TestClient, group: str | None) -> str:
    data = json.dumps({"host_group": group} if group else {})
    profile = admin.post(
        "/v2/lbaas/availabilityzoneprofiles",
        json={"availability_zone_profile": {"name": "z", "provider_name": "appliance",
                                            "availability_zone_data": data}},
    )  # fmt: skip
    name = f"z{uuid.uuid4().hex[:6]}"
    zone = admin.post(
        "/v2/lbaas/availabilityzones",
        json={"availability_zone": {"name": name, "availability_zone_profile_id":
                                    profile.json()["availability_zone_profile"]["id"]}},
    )  # fmt: skip
    assert zone.status_code == 201, zone.text
    return name


def _events(admin: TestClient, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = admin.get(f"{OP}/events", params={"type": kind}).json()["events"]
    return found


def test_failover_replaces_every_appliance_and_completes_with_an_event(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], notified: list[str]
) -> None:
    lb = make_lb()
    names = _pair(sessions, lb["id"], "a", "b")
    notified.clear()
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/failover")
    assert response.status_code == 202, response.text
    repair = response.json()["repair"]
    assert repair["action"] == "failover" and sorted(repair["appliances"]) == sorted(names)
    assert _statuses(sessions, lb["id"]) == dict.fromkeys(names, "RETIRING")
    assert notified == [lb["id"]]
    assert [e["loadbalancer_id"] for e in _events(admin, "loadbalancer.failover")] == [lb["id"]]
    # the reconciler applies an older generation: not done yet; then this one
    with sessions.begin() as session:
        complete_repairs(session, lb["id"], repair["generation"] - 1, T0)
    assert _events(admin, "loadbalancer.failover.completed") == []
    with sessions.begin() as session:
        complete_repairs(session, lb["id"], repair["generation"], T0)
        complete_repairs(session, lb["id"], repair["generation"] + 1, T0)  # once only
    done = _events(admin, "loadbalancer.failover.completed")
    assert [e["loadbalancer_id"] for e in done] == [lb["id"]]


def test_resync_bumps_the_generation_and_asks_for_a_full_ensure(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    names = _pair(sessions, lb["id"], "a")
    before = _lb_row(sessions, lb["id"]).desired_generation
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/resync")
    assert response.status_code == 202, response.text
    assert response.json()["repair"]["appliances"] == []
    assert _lb_row(sessions, lb["id"]).desired_generation == before + 1
    assert _statuses(sessions, lb["id"]) == {names[0]: "ALLOCATED"}  # nothing replaced
    assert _lb_row(sessions, lb["id"]).applied_generation == 0  # nothing taken from a cache
    with sessions.begin() as session:
        complete_repairs(session, lb["id"], before + 1, T0)
    assert len(_events(admin, "loadbalancer.resync")) == 1
    assert len(_events(admin, "loadbalancer.resync.completed")) == 1


def test_migrate_to_a_host_pins_it_and_replaces_the_appliances(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], hosts: list[str]
) -> None:
    lb = make_lb()
    names = _pair(sessions, lb["id"], "a", "b")
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/migrate", json={"host": "c"})
    assert response.status_code == 202, response.text
    assert _statuses(sessions, lb["id"]) == dict.fromkeys(names, "RETIRING")
    with sessions() as session:
        assert placement_candidates(session, lb["id"], None, "unused") == ["c"]
    # the tenant's event names no host
    (event,) = _events(admin, "loadbalancer.migrate")
    assert "host" not in event["details"]


def test_migrate_to_a_zone_uses_its_host_group(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], hosts: list[str]
) -> None:
    lb = make_lb()
    _pair(sessions, lb["id"], "a", "b")
    zone = _zone(admin, "rack2")
    response = admin.post(
        f"{OP}/loadbalancers/{lb['id']}/migrate", json={"availability_zone": zone}
    )
    assert response.status_code == 202, response.text
    assert _lb_row(sessions, lb["id"]).availability_zone == zone
    with sessions() as session:
        assert placement_candidates(session, lb["id"], zone, "unused") == ["c"]
    again = admin.post(f"{OP}/loadbalancers/{lb['id']}/migrate", json={"availability_zone": zone})
    assert again.status_code == 409 and "already" in again.json()["faultstring"]
    listed = admin.get(f"{OP}/hosts").json()["hosts"]
    assert {h["name"]: h["availability_zones"] for h in listed}["c"] == [zone]


def test_migrate_refuses_bad_targets_with_400_and_the_current_one_with_409(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], hosts: list[str]
) -> None:
    lb = make_lb()
    _pair(sessions, lb["id"], "c")
    path = f"{OP}/loadbalancers/{lb['id']}/migrate"
    rack1 = _zone(admin, "rack1")
    bad: list[Any] = [
        {}, {"host": None}, {"host": 5}, {"host": ["a"]}, {"availability_zone": 5},
        {"host": "a", "extra": 1}, {"host": "nope"}, {"availability_zone": "nope"},
        {"availability_zone": rack1, "host": "c"},  # c is not in rack1
        *({"host": value} for value in HOSTILE), *({"availability_zone": v} for v in HOSTILE),
    ]  # fmt: skip
    for body in [*bad, "[]", "null", "x"]:
        sent = (
            admin.post(path, content=body) if isinstance(body, str) else admin.post(path, json=body)
        )
        assert sent.status_code == 400, (body, sent.text)
        fault = sent.json()
        assert fault["faultcode"] == "Client" and "\n" not in fault["faultstring"], body
    current = admin.post(path, json={"host": "c"})
    assert current.status_code == 409, current.text
    assert _statuses(sessions, lb["id"]) == {f"{lb['id'][:12]}-0": "ALLOCATED"}  # untouched
    with sessions.begin() as session:
        session.get_one(m.Host, "a").state = "DRAINING"
        session.get_one(m.Host, "b").capacity = 0
    for host, words in (("a", "DRAINING"), ("b", "full")):
        refused = admin.post(path, json={"host": host})
        assert refused.status_code == 400, (host, refused.text)
        assert words in refused.json()["faultstring"]


def test_resize_applies_threads_and_replaces_appliances_one_at_a_time(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    two = _flavor(admin, haproxy_threads=2)
    lb = make_lb(flavor_id=two)
    names = _pair(sessions, lb["id"], "a")
    with sessions() as session:
        assert haproxy_threads(session, session.get_one(m.LoadBalancer, lb["id"])) == 2
    four = _flavor(admin, haproxy_threads=4)
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/resize", json={"flavor_id": four})
    assert response.status_code == 202, response.text
    assert _lb_row(sessions, lb["id"]).flavor_id == four
    assert _statuses(sessions, lb["id"]) == {names[0]: "RETIRING"}
    with sessions() as session:
        assert haproxy_threads(session, session.get_one(m.LoadBalancer, lb["id"])) == 4
    same = admin.post(f"{OP}/loadbalancers/{lb['id']}/resize", json={"flavor_id": four})
    assert same.status_code == 409
    # a flavor that changes nothing an appliance is: no replacement
    also_four = _flavor(admin, haproxy_threads=4)
    with sessions.begin() as session:
        session.get_one(m.Appliance, _id_of(session, names[0])).status = "ALLOCATED"
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/resize", json={"flavor_id": also_four})
    assert response.status_code == 202 and response.json()["repair"]["appliances"] == []
    assert _statuses(sessions, lb["id"]) == {names[0]: "ALLOCATED"}


def _id_of(session: Session, name: str) -> str:
    return session.scalars(select(m.Appliance.id).where(m.Appliance.name == name)).one()


def test_resize_refuses_another_topology_unknown_and_hostile_flavors(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    path = f"{OP}/loadbalancers/{lb['id']}/resize"
    pair = _flavor(admin, loadbalancer_topology="ACTIVE_STANDBY")
    refused = admin.post(path, json={"flavor_id": pair})
    assert refused.status_code == 400 and "keeps the topology" in refused.json()["faultstring"]
    disabled = _flavor(admin)
    admin.put(f"/v2/lbaas/flavors/{disabled}", json={"flavor": {"enabled": False}})
    for body in [{}, {"flavor_id": None}, {"flavor_id": 7}, {"flavor_id": str(uuid.uuid4())},
                 {"flavor_id": disabled}, *({"flavor_id": v} for v in HOSTILE)]:  # fmt: skip
        sent = admin.post(path, json=body)
        assert sent.status_code == 400, (body, sent.text)
    assert _lb_row(sessions, lb["id"]).flavor_id is None  # nothing half-applied


def test_resize_of_active_active_changes_the_count_without_replacing(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb(flavor_id=_flavor(admin, loadbalancer_topology="ACTIVE_ACTIVE"))
    names = _pair(sessions, lb["id"], "a", "b")
    three = _flavor(admin, loadbalancer_topology="ACTIVE_ACTIVE", appliance_count=3)
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/resize", json={"flavor_id": three})
    assert response.status_code == 202, response.text
    assert _lb_row(sessions, lb["id"]).appliance_count == 3  # the planner adds the third
    assert _statuses(sessions, lb["id"]) == dict.fromkeys(names, "ALLOCATED")
    # a flavor that names no topology keeps the load balancer's, and its count
    plain = _flavor(admin)
    assert (
        admin.post(f"{OP}/loadbalancers/{lb['id']}/resize", json={"flavor_id": plain}).status_code
        == 202
    )
    assert _lb_row(sessions, lb["id"]).appliance_count == 3
    assert _lb_row(sessions, lb["id"]).topology == "ACTIVE_ACTIVE"


@pytest.mark.parametrize("action", ["failover", "resync", "migrate", "resize"])
def test_unknown_deleting_and_other_callers(
    action: str, admin: TestClient, make_client: MakeClient, make_lb: Factory, hosts: list[str]
) -> None:
    body = {"migrate": {"host": "a"}, "resize": {"flavor_id": _flavor(admin)}}.get(action)
    for missing in ("nope", str(uuid.uuid4()), "a%0Ab", "x" * 3000):
        response = admin.post(f"{OP}/loadbalancers/{missing}/{action}", json=body)
        assert response.status_code == 404 and "not found" in response.json()["faultstring"]
    lb = make_lb()
    assert (
        make_client().post(f"{OP}/loadbalancers/{lb['id']}/{action}", json=body).status_code == 403
    )
    assert admin.delete(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 204
    response = admin.post(f"{OP}/loadbalancers/{lb['id']}/{action}", json=body)
    assert response.status_code == 409 and "PENDING_DELETE" in response.json()["faultstring"]


def test_hosts_list_and_drain_moves_appliances_and_spares(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], hosts: list[str],
    notified: list[str],
) -> None:  # fmt: skip
    first, second = make_lb(), make_lb()
    on_first = _pair(sessions, first["id"], "a", "b")
    on_second = _pair(sessions, second["id"], "b", "c")
    listed = {h["name"]: h for h in admin.get(f"{OP}/hosts").json()["hosts"]}
    assert listed["b"]["appliances"] == 2 and listed["b"]["loadbalancers"] == 2
    assert listed["b"]["capacity"] == 2 and listed["a"]["capacity"] is None
    assert listed["a"]["host_group"] == "rack1" and listed["a"]["state"] == "ACTIVE"
    assert admin.get(f"{OP}/hosts?state=ACTIVE&host_group=rack2").json()["hosts"][0]["name"] == "c"
    with sessions() as session:  # b is full: it takes no new appliance
        assert placement_candidates(session, None, None, "unused") == ["a", "c"]
    notified.clear()

    drained = admin.post(f"{OP}/hosts/b/drain")
    assert drained.status_code == 202, drained.text
    assert drained.json()["host"]["state"] == "DRAINING"
    assert _statuses(sessions, first["id"]) == {on_first[0]: "ALLOCATED", on_first[1]: "RETIRING"}
    assert _statuses(sessions, second["id"]) == {
        on_second[0]: "RETIRING",
        on_second[1]: "ALLOCATED",
    }
    assert sorted(notified) == sorted([first["id"], second["id"]])
    assert admin.post(f"{OP}/hosts/b/drain").status_code == 409
    assert admin.get(f"{OP}/hosts/b").json()["host"]["state"] == "DRAINING"
    undrained = admin.post(f"{OP}/hosts/b/undrain")
    assert undrained.status_code == 200 and undrained.json()["host"]["state"] == "ACTIVE"
    assert admin.post(f"{OP}/hosts/b/undrain").status_code == 409
    assert [e["details"]["host"] for e in _events(admin, "host.draining")] == ["b"]


def test_drain_needs_another_host_and_unknown_hosts_are_404(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        sync_hosts(session, [HostDeclaration("only")], T0)
    refused = admin.post(f"{OP}/hosts/only/drain")
    assert refused.status_code == 409 and "no other host" in refused.json()["faultstring"]
    for name in ("nope", "a%0Ab", "x" * 3000, "%22"):
        for method, path in (("GET", ""), ("POST", "/drain"), ("POST", "/undrain")):
            response = admin.request(method, f"{OP}/hosts/{name}{path}")
            assert response.status_code == 404, (name, path, response.text)


def test_hosts_no_longer_declared_stay_while_they_hold_appliances(
    make_lb: Factory, sessions: sessionmaker[Session], hosts: list[str]
) -> None:
    lb = make_lb()
    _pair(sessions, lb["id"], "a", "old-machine")
    with sessions.begin() as session:
        sync_hosts(session, [HostDeclaration("a"), HostDeclaration("d", 5)], T0)
    with sessions() as session:
        states = {h.name: (h.state, h.capacity) for h in session.scalars(select(m.Host))}
    assert states == {
        "a": ("ACTIVE", None),
        "d": ("ACTIVE", 5),
        "old-machine": ("UNDECLARED", None),  # named by an appliance, declared by nobody
    }
    with sessions() as session:
        assert placement_candidates(session, lb["id"], None, "unused") == ["a", "d"]

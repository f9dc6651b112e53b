"""Failover on demand and the amphora view: PUT .../loadbalancers/{id}/failover,
GET/PUT /v2/octavia/amphorae (admins only)."""

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models as m
from steelyard.db.appliances import add_appliance
from tests.unit.api.conftest import Factory, MakeClient

T0 = datetime(2026, 11, 26, 2, 0, 0)


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


def _appliances(sessions: sessionmaker[Session], lb_id: str, *roles: str) -> list[str]:
    names = []
    with sessions.begin() as session:
        for slot, role in enumerate(roles):
            row = add_appliance(
                session,
                new_id=f"00000000-0000-4000-8000-00000000000{slot}",
                name=f"{lb_id[:12]}-{slot}",
                lb_id=lb_id,
                slot=slot,
                role=role,
                host="h1",
                compute_driver="netns",
                zone=None,
                now=T0,
            )
            row.status = "ALLOCATED"
            row.vrrp_ip = f"198.18.0.{10 + slot}"
            names.append(row.name)
    return names


def _statuses(sessions: sessionmaker[Session], lb_id: str) -> dict[str, str]:
    with sessions() as session:
        rows = session.scalars(select(m.Appliance).where(m.Appliance.loadbalancer_id == lb_id))
        return {r.name: r.status for r in rows}


def test_loadbalancer_failover_marks_every_appliance_and_wakes_the_reconciler(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], notified: list[str]
) -> None:
    lb = make_lb()
    names = _appliances(sessions, lb["id"], "MASTER", "BACKUP")
    generation_before = _generation(sessions, lb["id"])
    notified.clear()

    response = admin.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover")

    assert response.status_code == 202, response.text
    assert _statuses(sessions, lb["id"]) == dict.fromkeys(names, "RETIRING")
    assert _generation(sessions, lb["id"]) == generation_before + 1
    assert notified == [lb["id"]]
    shown = admin.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"
    events = admin.get("/v2/operator/events?type=loadbalancer.failover").json()["events"]
    assert [e["loadbalancer_id"] for e in events] == [lb["id"]]
    # the same path under /v2.0, as the openstack CLI calls it
    assert admin.put(f"/v2.0/lbaas/loadbalancers/{lb['id']}/failover").status_code == 202


def _generation(sessions: sessionmaker[Session], lb_id: str) -> int:
    with sessions() as session:
        return session.get_one(m.LoadBalancer, lb_id).desired_generation


@pytest.mark.parametrize("roles", ["member", "reader"])
def test_only_admins_fail_over(make_client: MakeClient, make_lb: Factory, roles: str) -> None:
    lb = make_lb()
    tenant = make_client(roles=roles)
    response = tenant.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover")
    assert response.status_code == 403
    assert "faultstring" in response.json()


@pytest.mark.parametrize(
    "lb_id", ["nope", "00000000-0000-4000-8000-000000000000", "a%0Ab", "%22%27", "x" * 5000]
)
def test_failover_of_an_unknown_load_balancer_is_404(admin: TestClient, lb_id: str) -> None:
    response = admin.put(f"/v2/lbaas/loadbalancers/{lb_id}/failover")
    assert response.status_code == 404
    assert "not found" in response.json()["faultstring"]


def test_failover_while_deleting_is_409(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    assert admin.delete(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 204
    response = admin.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover")
    assert response.status_code == 409
    assert "PENDING_DELETE" in response.json()["faultstring"]


def test_amphorae_list_show_filter_and_fail_over_one(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    master, backup = _appliances(sessions, lb["id"], "MASTER", "BACKUP")

    listed = admin.get(f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}").json()
    by_role = {a["role"]: a for a in listed["amphorae"]}
    assert set(by_role) == {"MASTER", "BACKUP"}
    assert by_role["MASTER"]["status"] == "ALLOCATED"
    assert by_role["MASTER"]["vrrp_ip"] == "198.18.0.10"
    assert by_role["MASTER"]["ha_ip"] is None  # not placed yet
    assert by_role["MASTER"]["vrrp_interface"] == "eth0"
    assert 1 <= by_role["MASTER"]["vrrp_id"] <= 255
    only_backup = admin.get("/v2/octavia/amphorae?role=BACKUP").json()["amphorae"]
    assert [a["name"] for a in only_backup] == [backup]

    amphora_id = by_role["BACKUP"]["id"]
    shown = admin.get(f"/v2/octavia/amphorae/{amphora_id}").json()["amphora"]
    assert shown["loadbalancer_id"] == lb["id"]

    assert admin.put(f"/v2/octavia/amphorae/{amphora_id}/failover").status_code == 202
    assert _statuses(sessions, lb["id"]) == {master: "ALLOCATED", backup: "RETIRING"}
    shown = admin.get(f"/v2/octavia/amphorae/{amphora_id}").json()["amphora"]
    assert shown["status"] == "PENDING_DELETE"


def test_amphorae_are_for_admins_and_unknown_ones_are_404(
    admin: TestClient, make_client: MakeClient
) -> None:
    assert make_client().get("/v2/octavia/amphorae").status_code == 403
    assert make_client().put("/v2/octavia/amphorae/x/failover").status_code == 403
    missing = admin.put("/v2/octavia/amphorae/00000000-0000-4000-8000-00000000abcd/failover")
    assert missing.status_code == 404
    assert admin.get("/v2/octavia/amphorae/'%0A").status_code == 404
    assert admin.get("/v2/octavia/amphorae?bogus=1").status_code == 400

"""The rest of Octavia's amphora API: PUT /v2/octavia/amphorae/{id}/config (a resync of the
appliance's load balancer) and DELETE /v2/octavia/amphorae/{id} (a failed appliance or a spare;
one that serves is refused as Octavia refuses amphorae not in ERROR)."""

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models as m
from steelyard.db.appliances import add_appliance
from tests.unit.api.conftest import Factory, MakeClient

T0 = datetime(2026, 11, 26, 2, 0, 0)
HOSTILE_IDS = ["nope", "00000000-0000-4000-8000-00000000abcd", "a%0Ab", "%22%27", "x" * 5000]


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


def _appliance(
    sessions: sessionmaker[Session], lb_id: str | None, status: str, slot: int = 0
) -> str:
    ident = f"00000000-0000-4000-8000-0000000000{slot:02d}"
    with sessions.begin() as session:
        row = add_appliance(
            session,
            new_id=ident,
            name=f"{(lb_id or 'spare')[:12]}-{slot}",
            lb_id=lb_id,
            slot=slot,
            role="STANDALONE",
            host="h1",
            compute_driver="netns",
            zone=None,
            now=T0,
        )
        row.status = status
        row.applied_generation = 1
    return ident


def _row(sessions: sessionmaker[Session], ident: str) -> m.Appliance | None:
    with sessions() as session:
        return session.get(m.Appliance, ident)


def _lb(sessions: sessionmaker[Session], lb_id: str) -> m.LoadBalancer:
    with sessions() as session:
        return session.get_one(m.LoadBalancer, lb_id)


def _event_types(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(m.Event.type).order_by(m.Event.created_at)))


def test_config_push_resyncs_the_load_balancer_and_wakes_the_reconciler(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], notified: list[str]
) -> None:
    lb = make_lb()
    ident = _appliance(sessions, lb["id"], "ALLOCATED")
    generation = _lb(sessions, lb["id"]).desired_generation
    notified.clear()

    response = admin.put(f"/v2/octavia/amphorae/{ident}/config")

    assert response.status_code == 202, response.text
    assert response.content == b""
    assert notified == [lb["id"]]
    # the operator's resync: a new generation, applied 0 so that the reconciler ensures
    # every appliance again and pushes the config
    row_lb = _lb(sessions, lb["id"])
    assert (row_lb.desired_generation, row_lb.applied_generation) == (generation + 1, 0)
    row = _row(sessions, ident)
    assert row is not None and row.applied_generation == 0 and row.status == "ALLOCATED"
    assert _event_types(sessions)[-1] == "loadbalancer.resync"


def test_config_push_of_a_spare_or_a_deleting_load_balancer_is_409(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    spare = _appliance(sessions, None, "READY", slot=1)
    response = admin.put(f"/v2/octavia/amphorae/{spare}/config")
    assert response.status_code == 409
    assert "serves no load balancer" in response.json()["faultstring"]

    lb = make_lb()
    ident = _appliance(sessions, lb["id"], "ALLOCATED", slot=2)
    assert admin.delete(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 204
    response = admin.put(f"/v2/octavia/amphorae/{ident}/config")
    assert response.status_code == 409
    assert "PENDING_DELETE" in response.json()["faultstring"]


@pytest.mark.parametrize("status", ["ALLOCATED", "BOOTING", "RETIRING"])
def test_deleting_an_appliance_that_serves_is_409_and_changes_nothing(
    admin: TestClient,
    make_lb: Factory,
    sessions: sessionmaker[Session],
    notified: list[str],
    status: str,
) -> None:
    lb = make_lb()
    ident = _appliance(sessions, lb["id"], status)
    before = _lb(sessions, lb["id"])
    notified.clear()

    response = admin.delete(f"/v2/octavia/amphorae/{ident}")

    assert response.status_code == 409
    body = response.json()
    assert body["faultstring"] == f"Amphora {ident} is immutable and cannot be updated."
    assert body["faultcode"] == "Client" and body["debuginfo"] is None
    row = _row(sessions, ident)
    assert row is not None and row.status == status
    after = _lb(sessions, lb["id"])
    assert notified == []
    assert (after.desired_generation, after.applied_generation) == (
        before.desired_generation,
        before.applied_generation,
    )
    assert "appliance.delete_requested" not in _event_types(sessions)


def test_deleting_a_failed_appliance_has_the_reconciler_remove_it(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session], notified: list[str]
) -> None:
    lb = make_lb()
    ident = _appliance(sessions, lb["id"], "FAILED")
    notified.clear()

    response = admin.delete(f"/v2/octavia/amphorae/{ident}")

    assert response.status_code == 204 and response.content == b""
    assert notified == [lb["id"]]
    row = _row(sessions, ident)
    assert row is not None and row.status == "FAILED"  # the reconciler's next pass removes it
    assert _event_types(sessions)[-1] == "appliance.delete_requested"


def test_deleting_a_spare_marks_it_for_the_spare_pool(
    admin: TestClient, sessions: sessionmaker[Session], notified: list[str]
) -> None:
    spare = _appliance(sessions, None, "READY")

    response = admin.delete(f"/v2/octavia/amphorae/{spare}")

    assert response.status_code == 204
    assert notified == []
    row = _row(sessions, spare)
    assert row is not None and row.status == "FAILED"
    assert row.failed_reason == "deleted by an operator"
    shown = admin.get(f"/v2/octavia/amphorae/{spare}").json()["amphora"]
    assert shown["status"] == "ERROR"
    # deleting it again while the pool has not removed it yet is the same answer
    assert admin.delete(f"/v2/octavia/amphorae/{spare}").status_code == 204


@pytest.mark.parametrize("ident", HOSTILE_IDS)
def test_unknown_amphorae_are_404_for_config_and_delete(admin: TestClient, ident: str) -> None:
    for response in (
        admin.put(f"/v2/octavia/amphorae/{ident}/config"),
        admin.delete(f"/v2/octavia/amphorae/{ident}"),
    ):
        assert response.status_code == 404
        assert response.json()["faultstring"].endswith("not found.")


def test_a_body_is_ignored_and_tenants_are_refused(
    admin: TestClient, make_client: MakeClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    ident = _appliance(sessions, lb["id"], "ALLOCATED")
    assert admin.put(f"/v2/octavia/amphorae/{ident}/config", content=b"\x00{'").status_code == 202
    for roles in ("member", "reader"):
        tenant = make_client(roles=roles)
        assert tenant.put(f"/v2/octavia/amphorae/{ident}/config").status_code == 403
        assert tenant.delete(f"/v2/octavia/amphorae/{ident}").status_code == 403


def test_amphora_lists_filter_on_octavias_statuses(
    admin: TestClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    failed = _appliance(sessions, lb["id"], "FAILED", slot=1)
    retiring = _appliance(sessions, lb["id"], "RETIRING", slot=2)
    serving = _appliance(sessions, lb["id"], "ALLOCATED", slot=3)

    def listed(query: str) -> list[str]:
        response = admin.get(f"/v2/octavia/amphorae?{query}")
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["amphorae"]]

    assert listed("status=ERROR") == [failed]
    assert listed("status=PENDING_DELETE") == [retiring]
    assert listed("status=ALLOCATED&status=ERROR") == [failed, serving]
    assert listed("status=FAILED") == [failed]  # Steelyard's own word works too
    assert listed("status=%0A%27") == []

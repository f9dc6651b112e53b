"""The operator API for protection: deployment defaults, per-load-balancer overrides and the
"under attack" switch; admins only, every change reaches the data plane."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models
from steelyard.db.apikeys import create_api_key
from steelyard.model.protection import UNDER_ATTACK
from tests.unit.api.conftest import PROJECT, Factory, Json, MakeClient

OPERATOR = "/v2/operator"
DEFAULTS = f"{OPERATOR}/protection/defaults"
MISSING = "6a2d7b2e-0000-4000-8000-000000000000"
LbRow = Callable[[str], models.LoadBalancer]


def lb_path(lb_id: str, what: str = "protection") -> str:
    return f"{OPERATOR}/loadbalancers/{lb_id}/{what}"


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


def ok(response: Any) -> Json:
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def calls(lb_id: str) -> list[tuple[str, str, Json | None]]:
    return [
        ("GET", DEFAULTS, None),
        ("PUT", DEFAULTS, {"protection": {}}),
        ("GET", lb_path(lb_id), None),
        ("PUT", lb_path(lb_id), {"protection": {"max_connections": 1}}),
        ("DELETE", lb_path(lb_id), None),
        ("PUT", lb_path(lb_id, "under_attack"), {"under_attack": True}),
        ("GET", f"{OPERATOR}/events", None),
    ]


@pytest.mark.parametrize("roles", [None, "member", "reader", "member,reader", "Admin "])
def test_only_admins_may_use_the_operator_api(
    make_client: MakeClient,
    make_lb: Factory,
    lb_row: LbRow,
    notified: list[str],
    roles: str | None,
) -> None:
    lb = make_lb()
    tenant = make_client(roles=roles)
    before = lb_row(lb["id"]).desired_generation
    notified.clear()

    for method, path, body in calls(lb["id"]):
        response = tenant.request(method, path, json=body)
        if roles == "Admin ":  # roles are matched case-insensitively, trimmed
            assert response.status_code == 200, (method, path)
        else:
            assert response.status_code == 403, (method, path)
            assert response.json()["faultstring"].startswith("Policy does not allow")

    if roles != "Admin ":
        assert lb_row(lb["id"]).desired_generation == before and notified == []


def test_api_keys_with_the_admin_role_may_use_it(
    make_client: MakeClient, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        admin_key = create_api_key(session, "ops", "admin")
        member_key = create_api_key(session, PROJECT, "member")

    assert make_client(project=None, auth="keys", token=admin_key).get(DEFAULTS).status_code == 200
    member = make_client(project=None, auth="keys", token=member_key)
    assert member.get(DEFAULTS).status_code == 403
    assert make_client(project=None, auth="keys").get(DEFAULTS).status_code == 401


def test_unknown_load_balancers_are_not_found(admin: TestClient) -> None:
    for method, path, body in calls(MISSING)[2:6]:
        response = admin.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["faultstring"] == f"Load Balancer {MISSING} not found."


def test_defaults_reach_every_load_balancer_with_a_listener(
    admin: TestClient,
    make_lb: Factory,
    make_listener: Factory,
    settle: Callable[[], None],
    lb_row: LbRow,
    notified: list[str],
) -> None:
    served, idle, gone = make_lb(), make_lb(), make_lb()
    listener = make_listener(served["id"])
    make_listener(gone["id"])
    admin.delete(f"/v2/lbaas/loadbalancers/{gone['id']}?cascade=true")
    settle()
    generations = {lb["id"]: lb_row(lb["id"]).desired_generation for lb in (served, idle, gone)}
    notified.clear()
    assert ok(admin.get(DEFAULTS)) == {"protection": {}, "updated_at": None}

    body = ok(admin.put(DEFAULTS, json={"protection": {"max_conn_per_source": 40}}))

    assert body["protection"] == {"max_conn_per_source": 40} and body["updated_at"]
    assert ok(admin.get(DEFAULTS)) == body
    assert notified == [served["id"]]
    row = lb_row(served["id"])
    assert (row.desired_generation, row.provisioning_status) == (
        generations[served["id"]] + 1,
        "PENDING_UPDATE",
    )
    assert lb_row(idle["id"]).desired_generation == generations[idle["id"]]
    assert lb_row(gone["id"]).desired_generation == generations[gone["id"]]
    shown = admin.get(f"/v2/lbaas/listeners/{listener['id']}").json()["listener"]
    assert shown["effective_protection"]["max_conn_per_source"] == 40

    ok(admin.put(DEFAULTS, json={"protection": {"max_conn_per_source": 40}}))
    assert notified == [served["id"]]  # unchanged: nothing to do
    ok(admin.put(DEFAULTS, json={"protection": {}}))
    assert notified == [served["id"]] * 2
    assert (
        admin.get(f"/v2/lbaas/listeners/{listener['id']}").json()["listener"][
            "effective_protection"
        ]
        is None
    )


def test_override_set_shown_and_removed(
    admin: TestClient,
    make_lb: Factory,
    make_listener: Factory,
    lb_row: LbRow,
    notified: list[str],
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"], protection={"max_conn_per_source": 500})
    generation = lb_row(lb["id"]).desired_generation
    notified.clear()
    empty = ok(admin.get(lb_path(lb["id"])))
    assert (empty["protection"], empty["under_attack"], empty["project_id"]) == (
        None,
        False,
        PROJECT,
    )

    body = ok(admin.put(lb_path(lb["id"]), json={"protection": {"max_conn_per_source": 50}}))

    assert body["protection"] == {"max_conn_per_source": 50}
    [entry] = body["listeners"]
    assert (entry["id"], entry["protocol"], entry["protocol_port"]) == (listener["id"], "HTTP", 80)
    assert entry["protection"] == {"max_conn_per_source": 500}
    assert entry["effective_protection"]["max_conn_per_source"] == 50
    assert ok(admin.get(lb_path(lb["id"]))) == body

    removed = ok(admin.delete(lb_path(lb["id"])))

    assert removed["protection"] is None
    assert removed["listeners"][0]["effective_protection"]["max_conn_per_source"] == 500
    assert lb_row(lb["id"]).desired_generation == generation + 2
    assert notified == [lb["id"], lb["id"]]


def test_under_attack_tightens_every_listener_until_switched_off(
    admin: TestClient, make_lb: Factory, make_listener: Factory, lb_row: LbRow
) -> None:
    lb = make_lb()
    make_listener(lb["id"], protection={"req_rate_per_source": 10_000, "action": "http_429"})
    make_listener(lb["id"], protocol="TCP", protocol_port=22)
    generation = lb_row(lb["id"]).desired_generation

    on = ok(admin.put(lb_path(lb["id"], "under_attack"), json={"under_attack": True}))

    assert on["under_attack"] is True and lb_row(lb["id"]).under_attack
    http, tcp = (entry["effective_protection"] for entry in on["listeners"])
    assert http["req_rate_per_source"] == UNDER_ATTACK.req_rate_per_source
    assert http["action"] == UNDER_ATTACK.action
    assert http["max_header_bytes"] == UNDER_ATTACK.max_header_bytes
    assert tcp["max_conn_per_source"] == UNDER_ATTACK.max_conn_per_source
    assert (tcp["action"], tcp["req_rate_per_source"], tcp["max_header_bytes"]) == (
        "reject",
        None,
        None,
    )

    off = ok(admin.put(lb_path(lb["id"], "under_attack"), json={"under_attack": False}))

    assert off["under_attack"] is False
    assert off["listeners"][0]["effective_protection"]["req_rate_per_source"] == 10_000
    assert off["listeners"][1]["effective_protection"] is None
    assert lb_row(lb["id"]).desired_generation == generation + 2


def test_a_load_balancer_being_deleted_takes_no_override(
    admin: TestClient, make_lb: Factory, lb_row: LbRow
) -> None:
    lb = make_lb()
    admin.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")

    response = admin.put(lb_path(lb["id"]), json={"protection": {"max_connections": 5}})

    assert response.status_code == 409
    assert lb_row(lb["id"]).protection_override is None

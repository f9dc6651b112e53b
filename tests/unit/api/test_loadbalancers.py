import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models, vip
from tests.unit.api.conftest import PROJECT, Factory, Json

LbRow = Callable[[str], models.LoadBalancer]
Stack = Callable[[], dict[str, Json]]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


def test_create_starts_pending_with_a_vip_on_the_default_network(
    client: TestClient, notified: list[str], lb_row: LbRow
) -> None:
    response = client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {"name": "web"}})

    assert response.status_code == 201
    lb = response.json()["loadbalancer"]
    assert lb["provisioning_status"] == "PENDING_CREATE"
    assert lb["operating_status"] == "OFFLINE"
    assert lb["project_id"] == PROJECT
    assert lb["vip_address"] == "198.18.0.2"  # .1 is the gateway
    assert TIMESTAMP.match(lb["created_at"])
    assert lb["updated_at"] is None
    assert lb["listeners"] == [] and lb["pools"] == []
    assert lb["provider"] == "appliance"
    assert re.match(r"^[0-9a-f-]{36}$", lb["vip_port_id"])
    assert notified == [lb["id"]]
    assert lb_row(lb["id"]).desired_generation == 1


def test_vips_are_unique_until_the_subnet_is_full(
    make_lb: Factory, client: TestClient, make_client: Callable[..., TestClient]
) -> None:
    admin = make_client(project=None)
    network = admin.post(
        "/v2/steelyard/networks", json={"network": {"name": "small", "kind": "loopback"}}
    ).json()["network"]
    subnet = {"network_id": network["id"], "cidr": "198.19.0.0/29"}
    assert admin.post("/v2/steelyard/subnets", json={"subnet": subnet}).status_code == 201

    addresses = [make_lb(vip_network_id=network["id"])["vip_address"] for _ in range(5)]

    assert addresses == [f"198.19.0.{i}" for i in range(2, 7)]  # .1 gateway, .7 broadcast
    body = {"loadbalancer": {"vip_network_id": network["id"]}}
    response = client.post("/v2/lbaas/loadbalancers", json=body)
    assert response.status_code == 409
    assert "No more IP addresses" in response.json()["faultstring"]


def test_requested_vip_address_is_honoured_or_refused(make_lb: Factory, client: TestClient) -> None:
    assert make_lb(vip_address="198.18.0.5")["vip_address"] == "198.18.0.5"

    def refused(address: str) -> tuple[int, str]:
        body = {"loadbalancer": {"vip_address": address}}
        response = client.post("/v2/lbaas/loadbalancers", json=body)
        return response.status_code, response.json()["faultstring"]

    assert refused("198.18.0.5")[0] == 409  # in use
    assert refused("198.18.0.1")[0] == 409  # the gateway
    status, text = refused("10.1.1.1")
    assert status == 400 and "is not a valid IP for any of the subnets" in text
    status, text = refused("198.18.0.255")  # broadcast
    assert status == 400 and "not a valid IP for the specified subnet" in text


def test_a_vip_taken_concurrently_is_retried(
    make_lb: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_lb()
    # another API process allocated from the same snapshot: it did not see `first`
    monkeypatch.setattr(vip, "addresses_in_use", lambda session, subnet: [])

    second = make_lb()

    assert (first["vip_address"], second["vip_address"]) == ("198.18.0.2", "198.18.0.3")


def test_a_requested_vip_taken_concurrently_conflicts(
    make_lb: Factory, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_lb(vip_address="198.18.0.9")
    monkeypatch.setattr(vip, "addresses_in_use", lambda session, subnet: [])

    body = {"loadbalancer": {"vip_address": "198.18.0.9"}}
    response = client.post("/v2/lbaas/loadbalancers", json=body)

    assert response.status_code == 409
    assert "already allocated" in response.json()["faultstring"]


def test_unknown_vip_subnet_or_network_is_a_bad_request(client: TestClient) -> None:
    missing = "6a2d7b2e-0000-4000-8000-000000000000"
    for field, resource in (("vip_subnet_id", "Subnet"), ("vip_network_id", "Network")):
        response = client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {field: missing}})
        assert response.status_code == 400
        assert response.json()["faultstring"] == f"{resource} {missing} not found."


def test_vip_subnet_and_network_are_used(client: TestClient, make_lb: Factory) -> None:
    network = client.get("/v2/steelyard/networks").json()["networks"][0]
    subnet = network["subnets"][0]

    by_subnet = make_lb(vip_subnet_id=subnet["id"])
    by_network = make_lb(vip_network_id=network["id"])

    assert by_subnet["vip_subnet_id"] == by_network["vip_subnet_id"] == subnet["id"]
    assert by_network["vip_network_id"] == network["id"]


def test_options_this_provider_lacks_are_refused(client: TestClient) -> None:
    for fields in (
        {"vip_port_id": "6a2d7b2e-0000-4000-8000-000000000000"},
        {"flavor_id": "6a2d7b2e-0000-4000-8000-000000000000"},
        {"provider": "octavia"},
        {"availability_zone": "az1"},
    ):
        response = client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": fields})
        assert response.status_code == 400, fields


def test_update_bumps_generation_and_never_waits_for_pending(
    make_lb: Factory, client: TestClient, notified: list[str], lb_row: LbRow, settle: Any
) -> None:
    lb = make_lb()
    path = f"/v2/lbaas/loadbalancers/{lb['id']}"

    first = client.put(path, json={"loadbalancer": {"name": "renamed"}})
    assert first.status_code == 200
    assert first.json()["loadbalancer"]["provisioning_status"] == "PENDING_CREATE"
    settle()
    second = client.put(path, json={"loadbalancer": {"admin_state_up": False}})
    third = client.put(path, json={"loadbalancer": {"description": "x"}})  # while PENDING_UPDATE

    assert third.status_code == 200
    body = third.json()["loadbalancer"]
    assert second.json()["loadbalancer"]["provisioning_status"] == "PENDING_UPDATE"
    assert (body["name"], body["admin_state_up"], body["description"]) == ("renamed", False, "x")
    assert TIMESTAMP.match(body["updated_at"])
    assert lb_row(lb["id"]).desired_generation == 4
    assert notified == [lb["id"]] * 4


def test_put_null_resets_and_null_admin_state_is_refused(
    make_lb: Factory, client: TestClient
) -> None:
    lb = make_lb(name="a", description="b")
    path = f"/v2/lbaas/loadbalancers/{lb['id']}"

    reset = client.put(path, json={"loadbalancer": {"name": None, "description": None}})
    refused = client.put(path, json={"loadbalancer": {"admin_state_up": None}})

    assert (reset.json()["loadbalancer"]["name"], reset.json()["loadbalancer"]["description"]) == (
        "",
        "",
    )
    assert refused.status_code == 400


def test_delete_needs_cascade_when_children_exist(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()
    make_listener(lb["id"])

    response = client.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")

    assert response.status_code == 400
    assert "it has children" in response.json()["faultstring"]


def test_cascade_delete_marks_everything_and_refuses_later_writes(
    make_stack: Stack,
    client: TestClient,
    notified: list[str],
    lb_row: LbRow,
    sessions: sessionmaker[Session],
) -> None:
    stack = make_stack()
    lb, listener, pool = stack["lb"], stack["listener"], stack["pool"]
    member, hm = stack["member"], stack["hm"]
    path = f"/v2/lbaas/loadbalancers/{lb['id']}"
    generation = lb_row(lb["id"]).desired_generation

    assert client.delete(f"{path}?cascade=true").status_code == 204

    row = lb_row(lb["id"])
    assert row.deleting and row.desired_generation == generation + 1
    assert notified[-1] == lb["id"]
    shown = client.get(path).json()["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_DELETE"
    for child in (
        f"/v2/lbaas/listeners/{listener['id']}",
        f"/v2/lbaas/pools/{pool['id']}",
        f"/v2/lbaas/pools/{pool['id']}/members/{member['id']}",
        f"/v2/lbaas/healthmonitors/{hm['id']}",
    ):
        (only,) = client.get(child).json().values()
        assert only["provisioning_status"] == "PENDING_DELETE", child
    again = client.put(path, json={"loadbalancer": {"name": "x"}})
    assert again.status_code == 409
    assert "is immutable" in again.json()["faultstring"]
    assert client.delete(path).status_code == 409
    assert make_listener_refused(client, lb["id"]) == 409

    with sessions.begin() as session:  # the reconciler finishes the teardown
        for table in (models.Member, models.HealthMonitor, models.Listener, models.Pool):
            session.execute(delete(table))
        session.execute(delete(models.LoadBalancer))
    assert client.get(path).status_code == 404


def make_listener_refused(client: TestClient, lb_id: str) -> int:
    body = {"loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": 81}
    return int(client.post("/v2/lbaas/listeners", json={"listener": body}).status_code)


def test_delete_without_children_works_at_once(
    make_lb: Factory, client: TestClient, lb_row: LbRow
) -> None:
    lb = make_lb()

    assert client.delete(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 204
    assert lb_row(lb["id"]).provisioning_status == "PENDING_DELETE"


def test_status_tree(make_stack: Stack, make_pool: Factory, client: TestClient) -> None:
    stack = make_stack()
    lb, listener, member, hm = stack["lb"], stack["listener"], stack["member"], stack["hm"]
    make_pool(loadbalancer_id=lb["id"], name="spare")

    tree = client.get(f"/v2/lbaas/loadbalancers/{lb['id']}/status").json()["statuses"]

    root = tree["loadbalancer"]
    assert (root["id"], root["name"], root["operating_status"]) == (lb["id"], "stack", "OFFLINE")
    (tree_listener,) = root["listeners"]
    assert tree_listener["id"] == listener["id"] and tree_listener["l7policies"] == []
    (tree_pool,) = tree_listener["pools"]
    assert tree_pool["healthmonitor"] == {
        "id": hm["id"],
        "name": "",
        "type": "HTTP",
        "provisioning_status": "PENDING_CREATE",
    }
    assert tree_pool["members"][0]["id"] == member["id"]
    assert tree_pool["members"][0]["address"] == "192.0.2.10"
    assert [p["name"] for p in root["pools"]] == ["p1", "spare"]
    assert root["pools"][1]["healthmonitor"] == {}


def test_stats_sum_the_listener_counters(
    make_lb: Factory, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    with sessions.begin() as session:
        for i, listener_id in enumerate(("l-1", "l-2")):
            session.add(
                models.ListenerStats(
                    listener_id=listener_id,
                    loadbalancer_id=lb["id"],
                    bytes_in=10 * (i + 1),
                    bytes_out=5,
                    active_connections=1,
                    total_connections=7,
                    request_errors=i,
                    updated_at=datetime(2026, 1, 1),
                )
            )
            session.add(
                models.ListenerRejections(
                    listener_id=listener_id,
                    reason="req_rate",
                    loadbalancer_id=lb["id"],
                    count=100 * (i + 1),
                    updated_at=datetime(2026, 1, 1),
                )
            )

    stats = client.get(f"/v2/lbaas/loadbalancers/{lb['id']}/stats").json()["stats"]

    assert stats == {
        "bytes_in": 30,
        "bytes_out": 10,
        "active_connections": 2,
        "total_connections": 14,
        "request_errors": 1,
        "rejected": {"req_rate": 300},
    }

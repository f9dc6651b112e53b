from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models
from tests.unit.api.conftest import Factory, Json

LbRow = Callable[[str], models.LoadBalancer]


def post(client: TestClient, body: Json) -> Any:
    return client.post("/v2/lbaas/listeners", json={"listener": body})


def test_create_has_octavia_defaults_and_bumps_the_load_balancer(
    make_lb: Factory,
    make_listener: Factory,
    settle: Callable[[], None],
    lb_row: LbRow,
    notified: list[str],
) -> None:
    lb = make_lb()
    settle()

    listener = make_listener(lb["id"], protocol="TCP", protocol_port=443)

    assert listener["provisioning_status"] == "PENDING_CREATE"
    assert listener["operating_status"] == "OFFLINE"
    assert listener["connection_limit"] == -1
    assert (
        listener["timeout_client_data"],
        listener["timeout_member_connect"],
        listener["timeout_member_data"],
        listener["timeout_tcp_inspect"],
    ) == (50000, 5000, 50000, 0)
    assert listener["loadbalancers"] == [{"id": lb["id"]}]
    assert listener["default_pool_id"] is None and listener["l7policies"] == []
    row = lb_row(lb["id"])
    assert (row.provisioning_status, row.desired_generation) == ("PENDING_UPDATE", 2)
    assert notified == [lb["id"], lb["id"]]


def test_other_protocols_are_not_supported_by_this_provider(
    make_lb: Factory, client: TestClient
) -> None:
    lb = make_lb()
    for protocol in ("UDP", "SCTP", "PROMETHEUS"):
        response = post(
            client, {"loadbalancer_id": lb["id"], "protocol": protocol, "protocol_port": 1}
        )
        assert response.status_code == 400
        assert "does not support a requested option" in response.json()["faultstring"]
    unknown = post(client, {"loadbalancer_id": lb["id"], "protocol": "GOPHER", "protocol_port": 1})
    assert unknown.status_code == 400


def test_port_in_use_conflicts_until_its_listener_is_deleted(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()
    first = make_listener(lb["id"])

    clash = post(client, {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 80})
    assert clash.status_code == 409
    assert client.delete(f"/v2/lbaas/listeners/{first['id']}").status_code == 204
    assert (
        client.get(f"/v2/lbaas/listeners/{first['id']}").json()["listener"]["provisioning_status"]
        == "PENDING_DELETE"
    )

    successor = make_listener(lb["id"], protocol="TCP")  # coalesced: no waiting
    assert successor["protocol_port"] == 80
    assert client.get(f"/v2/lbaas/listeners/{first['id']}").status_code == 404


def test_default_pool_must_match_and_belong_to_the_load_balancer(
    make_lb: Factory, make_pool: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb, other = make_lb(), make_lb()
    tcp_pool = make_pool(loadbalancer_id=lb["id"], protocol="TCP")
    foreign = make_pool(loadbalancer_id=other["id"])

    for pool_id in (tcp_pool["id"], foreign["id"]):
        body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
        response = post(client, {**body, "default_pool_id": pool_id})
        assert response.status_code == 400, response.text

    listener = make_listener(lb["id"], protocol="TCP", default_pool_id=tcp_pool["id"])
    assert listener["default_pool_id"] == tcp_pool["id"]
    shown = client.get(f"/v2/lbaas/pools/{tcp_pool['id']}").json()["pool"]
    assert shown["listeners"] == [{"id": listener["id"]}]


def test_create_with_a_new_default_pool(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()
    pool = {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "name": "inline"}

    listener = make_listener(lb["id"], default_pool=pool)

    shown = client.get(f"/v2/lbaas/pools/{listener['default_pool_id']}").json()["pool"]
    assert shown["name"] == "inline"


def test_insert_headers_are_checked(make_lb: Factory, client: TestClient) -> None:
    lb = make_lb()
    base = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
    for headers in (
        {"X-Evil": "true"},
        {"X-Forwarded-For": "yes\nX-Other: 1"},
        {"X-Forwarded-For": 1},
    ):
        assert post(client, {**base, "insert_headers": headers}).status_code == 400, headers
    tcp = {**base, "protocol": "TCP", "insert_headers": {"X-Forwarded-For": "true"}}
    assert post(client, tcp).status_code == 400


def test_tls_options_empty_on_plain_listeners(make_lb: Factory, client: TestClient) -> None:
    lb = make_lb()
    base = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
    assert post(client, {**base, "default_tls_container_ref": "x"}).status_code == 400
    created = post(client, {**base, "sni_container_refs": [], "default_tls_container_ref": None})
    assert created.status_code == 201


def test_update_and_unset(
    make_lb: Factory,
    make_listener: Factory,
    make_pool: Factory,
    client: TestClient,
    settle: Callable[[], None],
) -> None:
    lb = make_lb()
    pool = make_pool(loadbalancer_id=lb["id"])
    listener = make_listener(lb["id"], default_pool_id=pool["id"], connection_limit=100)
    settle()
    path = f"/v2/lbaas/listeners/{listener['id']}"

    changed = client.put(
        path,
        json={"listener": {"name": "n", "connection_limit": None, "default_pool_id": None}},
    ).json()["listener"]

    assert changed["provisioning_status"] == "PENDING_UPDATE"
    assert (changed["name"], changed["connection_limit"], changed["default_pool_id"]) == (
        "n",
        -1,
        None,
    )
    assert client.put(path, json={"listener": {"protocol": "TCP"}}).status_code == 400
    assert client.put(path, json={"listener": {"timeout_client_data": -1}}).status_code == 400
    headers = {"insert_headers": {"X-Forwarded-Proto": "True"}}
    assert client.put(path, json={"listener": headers}).json()["listener"]["insert_headers"] == {
        "X-Forwarded-Proto": "true"
    }


def test_a_deleted_listener_cannot_be_updated(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    path = f"/v2/lbaas/listeners/{listener['id']}"
    client.delete(path)

    response = client.put(path, json={"listener": {"name": "late"}})

    assert response.status_code == 409
    assert client.delete(path).status_code == 204  # deleting again is harmless


def test_stats(
    make_lb: Factory, make_listener: Factory, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    path = f"/v2/lbaas/listeners/{listener['id']}/stats"
    assert client.get(path).json()["stats"]["bytes_in"] == 0
    with sessions.begin() as session:
        session.add(
            models.ListenerStats(
                listener_id=listener["id"],
                loadbalancer_id=lb["id"],
                bytes_in=3,
                bytes_out=4,
                active_connections=5,
                total_connections=6,
                request_errors=7,
                updated_at=datetime(2026, 1, 1),
            )
        )
        for reason, count in (("req_rate", 11), ("deny_cidr", 2)):
            session.add(
                models.ListenerRejections(
                    listener_id=listener["id"],
                    reason=reason,
                    loadbalancer_id=lb["id"],
                    count=count,
                    updated_at=datetime(2026, 1, 1),
                )
            )

    assert client.get(path).json()["stats"] == {
        "bytes_in": 3,
        "bytes_out": 4,
        "active_connections": 5,
        "total_connections": 6,
        "request_errors": 7,
        "rejected": {"deny_cidr": 2, "req_rate": 11},
    }

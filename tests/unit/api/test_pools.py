from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import Factory, Json


def post(client: TestClient, body: Json) -> Any:
    base = {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
    return client.post("/v2/lbaas/pools", json={"pool": {**base, **body}})


def test_pool_on_a_listener_becomes_its_default_pool(
    make_lb: Factory, make_listener: Factory, make_pool: Factory, client: TestClient
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])

    pool = make_pool(listener_id=listener["id"])

    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    assert pool["listeners"] == [{"id": listener["id"]}]
    assert pool["members"] == [] and pool["healthmonitor_id"] is None
    assert pool["session_persistence"] is None and pool["tls_enabled"] is False
    shown = client.get(f"/v2/lbaas/listeners/{listener['id']}").json()["listener"]
    assert shown["default_pool_id"] == pool["id"]
    second = post(client, {"listener_id": listener["id"]})
    assert second.status_code == 409
    assert second.json()["faultstring"] == "This listener already has a default pool"


def test_pool_needs_a_parent_of_the_same_protocol(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb, other = make_lb(), make_lb()
    listener = make_listener(lb["id"], protocol="HTTP")

    assert post(client, {}).status_code == 400
    on_http = post(client, {"listener_id": listener["id"], "protocol": "TCP"})
    assert on_http.status_code == 400  # Octavia's pairs: HTTP listeners take HTTP/PROXY pools
    assert "is invalid while the listener protocol is 'HTTP'" in on_http.json()["faultstring"]
    mixed = post(
        client, {"listener_id": listener["id"], "loadbalancer_id": other["id"], "protocol": "HTTP"}
    )
    assert mixed.status_code == 400
    assert post(client, {"loadbalancer_id": lb["id"], "protocol": "UDP"}).status_code == 400
    assert post(client, {"loadbalancer_id": lb["id"], "lb_algorithm": "RANDOM"}).status_code == 400


def test_pool_with_members_and_monitor_in_one_call(
    make_lb: Factory, make_pool: Factory, client: TestClient
) -> None:
    lb = make_lb()
    monitor = {"type": "TCP", "delay": 2, "timeout": 1, "max_retries": 1}
    members = [{"address": "2001:db8::1", "protocol_port": 80}]

    pool = make_pool(
        loadbalancer_id=lb["id"], protocol="TCP", healthmonitor=monitor, members=members
    )

    assert len(pool["members"]) == 1 and pool["healthmonitor_id"]
    hm = client.get(f"/v2/lbaas/healthmonitors/{pool['healthmonitor_id']}").json()["healthmonitor"]
    assert hm["http_method"] is None and hm["url_path"] is None


@pytest.mark.parametrize(
    "persistence",
    [
        {"type": "APP_COOKIE"},
        {"type": "HTTP_COOKIE", "cookie_name": "a"},
        {"type": "APP_COOKIE", "cookie_name": "a;b"},
        {"type": "APP_COOKIE", "cookie_name": "a\nb"},
        {"type": "APP_COOKIE", "cookie_name": "a\n"},
        {"type": "APP_COOKIE", "cookie_name": 'a"b'},
        {"type": "APP_COOKIE", "cookie_name": ""},
        {"type": "APP_COOKIE", "cookie_name": "x" * 256},
        {"type": "HTTP_COOKIE", "persistence_timeout": 60},
        {"type": "SOURCE_IP", "persistence_granularity": "255.0.255.0"},
        {"type": "SOURCE_IP", "persistence_timeout": 0},
        {"type": "STICKY"},
        {"cookie_name": "a"},
    ],
)
def test_session_persistence_is_validated(
    make_lb: Factory, client: TestClient, persistence: Json
) -> None:
    lb = make_lb()

    response = post(client, {"loadbalancer_id": lb["id"], "session_persistence": persistence})

    assert response.status_code == 400, response.text


def test_session_persistence_accepted_forms(make_lb: Factory, make_pool: Factory) -> None:
    lb = make_lb()
    for persistence in (
        {"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
        {"type": "HTTP_COOKIE"},
        {
            "type": "SOURCE_IP",
            "persistence_timeout": 60,
            "persistence_granularity": "255.255.255.0",
        },
    ):
        pool = make_pool(loadbalancer_id=lb["id"], session_persistence=persistence)
        assert {
            k: v for k, v in pool["session_persistence"].items() if v is not None
        } == persistence


def test_update_merges_session_persistence(
    make_lb: Factory, make_pool: Factory, client: TestClient, settle: Callable[[], None]
) -> None:
    lb = make_lb()
    pool = make_pool(loadbalancer_id=lb["id"], session_persistence={"type": "HTTP_COOKIE"})
    settle()
    path = f"/v2/lbaas/pools/{pool['id']}"

    def put(fields: Json) -> Any:
        return client.put(path, json={"pool": fields})

    missing_cookie = put({"session_persistence": {"type": "APP_COOKIE"}})
    merged = put({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "c"}})
    renamed = put({"session_persistence": {"cookie_name": "d"}, "lb_algorithm": "SOURCE_IP"})
    switched = put({"session_persistence": {"type": "HTTP_COOKIE"}})  # the cookie name goes
    cleared = put({"session_persistence": None})

    assert missing_cookie.status_code == 400
    assert merged.json()["pool"]["session_persistence"]["cookie_name"] == "c"
    body = renamed.json()["pool"]
    assert body["provisioning_status"] == "PENDING_UPDATE"
    assert (body["session_persistence"]["cookie_name"], body["lb_algorithm"]) == ("d", "SOURCE_IP")
    assert switched.json()["pool"]["session_persistence"]["cookie_name"] is None
    assert cleared.json()["pool"]["session_persistence"] is None
    assert put({"lb_algorithm": None}).status_code == 400
    assert put({"protocol": "TCP"}).status_code == 400


def test_delete_takes_members_and_monitor_and_frees_the_listener(
    make_stack: Callable[[], dict[str, Json]], client: TestClient
) -> None:
    stack = make_stack()
    listener, pool, member, hm = stack["listener"], stack["pool"], stack["member"], stack["hm"]

    assert client.delete(f"/v2/lbaas/pools/{pool['id']}").status_code == 204

    member_path = f"/v2/lbaas/pools/{pool['id']}/members/{member['id']}"
    assert client.get(member_path).json()["member"]["provisioning_status"] == "PENDING_DELETE"
    shown_hm = client.get(f"/v2/lbaas/healthmonitors/{hm['id']}").json()["healthmonitor"]
    assert shown_hm["provisioning_status"] == "PENDING_DELETE"
    shown = client.get(f"/v2/lbaas/listeners/{listener['id']}").json()["listener"]
    assert shown["default_pool_id"] is None
    assert post(client, {"listener_id": listener["id"]}).status_code == 201
    new_member = {"member": {"address": "192.0.2.1", "protocol_port": 1}}
    assert client.post(f"/v2/lbaas/pools/{pool['id']}/members", json=new_member).status_code == 409

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from steelyard.db import models
from tests.unit.api.conftest import Factory, Json

LbRow = Callable[[str], models.LoadBalancer]


@pytest.fixture
def pool(make_lb: Factory, make_pool: Factory) -> Json:
    lb = make_lb()
    return make_pool(loadbalancer_id=lb["id"])


def members_path(pool: Json) -> str:
    return f"/v2/lbaas/pools/{pool['id']}/members"


def post(client: TestClient, pool: Json, body: Json) -> Any:
    return client.post(members_path(pool), json={"member": body})


def test_create_defaults_and_monitoring_status(
    pool: Json, make_member: Factory, make_hm: Factory
) -> None:
    unmonitored = make_member(pool["id"])
    make_hm(pool["id"])
    monitored = make_member(pool["id"], address="192.0.2.11", weight=0, backup=True)

    assert unmonitored["operating_status"] == "NO_MONITOR"
    assert monitored["operating_status"] == "OFFLINE"
    assert (unmonitored["weight"], unmonitored["backup"], unmonitored["name"]) == (1, False, "")
    assert (monitored["weight"], monitored["backup"]) == (0, True)
    assert unmonitored["provisioning_status"] == "PENDING_CREATE"


@pytest.mark.parametrize(
    "fields",
    [
        {"weight": 257},
        {"weight": -1},
        {"weight": "one"},
        {"weight": "1.5"},
        {"weight": [1]},
        {"protocol_port": 0},
        {"protocol_port": 65536},
        {"protocol_port": 10**30},
        {"address": "192.0.2.300"},
        {"address": "fe80::1%eth0"},
        {"address": "fe80::1%a b\n"},
        {"address": "example.com"},
        {"address": ""},
        {"address": "0.0.0.0"},
        {"address": "::"},
        {"address": "224.0.0.1"},
        {"address": "255.255.255.255"},
        {"monitor_address": "not-an-ip"},
        {"monitor_port": 70000},
        {"subnet_id": "6a2d7b2e-0000-4000-8000-000000000000"},
        {"subnet_id": "not-a-uuid"},
        {"backup": "true"},
    ],
)
def test_invalid_members_are_refused(client: TestClient, pool: Json, fields: Json) -> None:
    response = post(client, pool, {"address": "192.0.2.10", "protocol_port": 80, **fields})

    assert response.status_code == 400, response.text
    assert response.json()["faultstring"]


def test_numbers_may_come_as_decimal_strings(pool: Json, make_member: Factory) -> None:
    # python-octaviaclient sends some numbers as strings; Octavia takes them
    member = make_member(pool["id"], weight="7", protocol_port="81")

    assert (member["weight"], member["protocol_port"]) == (7, 81)


def test_addresses_are_canonical_and_endpoints_unique(
    client: TestClient, pool: Json, make_member: Factory
) -> None:
    member = make_member(pool["id"], address="2001:DB8:0:0::1")

    assert member["address"] == "2001:db8::1"
    clash = post(client, pool, {"address": "2001:db8::1", "protocol_port": 8080})
    assert clash.status_code == 409


def test_update_and_unset(
    client: TestClient, pool: Json, make_member: Factory, settle: Callable[[], None]
) -> None:
    member = make_member(pool["id"], weight=5, monitor_port=9000, name="m")
    settle()
    path = f"{members_path(pool)}/{member['id']}"

    changed = client.put(path, json={"member": {"weight": None, "monitor_port": None}})
    body = changed.json()["member"]

    assert changed.status_code == 200
    assert (body["weight"], body["monitor_port"], body["name"]) == (1, None, "m")
    assert body["provisioning_status"] == "PENDING_UPDATE"
    assert client.put(path, json={"member": {"address": "192.0.2.99"}}).status_code == 400


def test_member_of_another_pool_is_not_found(
    client: TestClient, pool: Json, make_pool: Factory, make_member: Factory, make_lb: Factory
) -> None:
    other = make_pool(loadbalancer_id=make_lb()["id"])
    member = make_member(other["id"])

    assert client.get(f"{members_path(pool)}/{member['id']}").status_code == 404
    assert client.delete(f"{members_path(pool)}/{member['id']}").status_code == 404


def test_batch_update_replaces_the_member_set(
    client: TestClient,
    pool: Json,
    make_member: Factory,
    settle: Callable[[], None],
    lb_row: LbRow,
    notified: list[str],
) -> None:
    kept = make_member(pool["id"], address="192.0.2.1", protocol_port=80)
    changed = make_member(pool["id"], address="192.0.2.2", protocol_port=80)
    dropped = make_member(pool["id"], address="192.0.2.3", protocol_port=80)
    settle()
    lb_id = pool["loadbalancers"][0]["id"]
    generation = lb_row(lb_id).desired_generation

    response = client.put(
        members_path(pool),
        json={
            "members": [
                {"address": "192.0.2.1", "protocol_port": 80},
                {"address": "192.0.2.2", "protocol_port": 80, "weight": 7},
                {"address": "192.0.2.4", "protocol_port": 80, "name": "new"},
            ]
        },
    )

    assert response.status_code == 202 and response.content == b""
    listed = {m["address"]: m for m in client.get(members_path(pool)).json()["members"]}
    assert listed["192.0.2.1"]["id"] == kept["id"]
    assert listed["192.0.2.1"]["provisioning_status"] == "ACTIVE"  # unchanged
    assert listed["192.0.2.2"]["id"] == changed["id"]
    assert (listed["192.0.2.2"]["weight"], listed["192.0.2.2"]["provisioning_status"]) == (
        7,
        "PENDING_UPDATE",
    )
    assert listed["192.0.2.3"]["id"] == dropped["id"]
    assert listed["192.0.2.3"]["provisioning_status"] == "PENDING_DELETE"
    assert listed["192.0.2.4"]["provisioning_status"] == "PENDING_CREATE"
    assert lb_row(lb_id).desired_generation == generation + 1
    assert notified[-1] == lb_id


def test_batch_update_additive_only_keeps_the_others(
    client: TestClient, pool: Json, make_member: Factory
) -> None:
    make_member(pool["id"], address="192.0.2.1")
    body = {"members": [{"address": "192.0.2.9", "protocol_port": 80}]}

    response = client.put(f"{members_path(pool)}?additive_only=true", json=body)

    assert response.status_code == 202
    statuses = {m["provisioning_status"] for m in client.get(members_path(pool)).json()["members"]}
    assert statuses == {"PENDING_CREATE"}


def test_batch_update_refuses_duplicates_and_bad_entries(
    client: TestClient, pool: Json, row_counts: Callable[[], dict[str, int]]
) -> None:
    before = row_counts()
    same = {"address": "192.0.2.1", "protocol_port": 80}
    for members in ([same, same], [same, {"address": "192.0.2.2"}]):
        assert client.put(members_path(pool), json={"members": members}).status_code == 400
    assert client.put(members_path(pool), json={"member": [same]}).status_code == 400
    assert row_counts() == before


def test_batch_update_empty_set_deletes_all(
    client: TestClient, pool: Json, make_member: Factory
) -> None:
    make_member(pool["id"])

    assert client.put(members_path(pool), json={"members": []}).status_code == 202
    (member,) = client.get(members_path(pool)).json()["members"]
    assert member["provisioning_status"] == "PENDING_DELETE"

"""Listener allowed_cidrs (Octavia v2.12): who may connect. Given on create (alone or fully
populated), replaced by PUT, cleared by null or [], shown as null when everyone may connect;
each network of the VIP's IP version; hostile values refused with nothing written."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db.snapshot import load_snapshot
from tests.unit.api.conftest import Factory, Json

LISTENERS = "/v2/lbaas/listeners"


def post(client: TestClient, body: Json) -> Any:
    return client.post(LISTENERS, json={"listener": body})


def put(client: TestClient, listener_id: str, body: Json) -> Any:
    return client.put(f"{LISTENERS}/{listener_id}", json={"listener": body})


def shown(client: TestClient, listener_id: str) -> Any:
    return client.get(f"{LISTENERS}/{listener_id}").json()["listener"]["allowed_cidrs"]


def spec_cidrs(sessions: sessionmaker[Session], lb_id: str) -> tuple[str, ...]:
    with sessions() as session:
        snap = load_snapshot(session, lb_id)
    assert snap is not None
    return snap.spec.listeners[0].allowed_cidrs


def test_everyone_by_default_shown_as_null(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    assert listener["allowed_cidrs"] is None
    empty = make_listener(lb["id"], protocol_port=81, allowed_cidrs=[])
    assert empty["allowed_cidrs"] is None
    none = make_listener(lb["id"], protocol_port=82, allowed_cidrs=None)
    assert shown(client, none["id"]) is None


def test_kept_as_given_a_network_once_and_normal_form_for_the_data_plane(
    make_lb: Factory,
    make_listener: Factory,
    client: TestClient,
    sessions: sessionmaker[Session],
) -> None:
    lb = make_lb()
    given = ["198.51.100.0/24", "203.0.113.5", "198.51.100.7/24", "10.0.0.0/8", "203.0.113.5/32"]

    listener = make_listener(lb["id"], allowed_cidrs=given)

    # Octavia's CidrType: a bare address is one host, host bits are allowed; duplicates collapse
    assert listener["allowed_cidrs"] == ["198.51.100.0/24", "203.0.113.5", "10.0.0.0/8"]
    assert shown(client, listener["id"]) == listener["allowed_cidrs"]
    listed = client.get(f"{LISTENERS}?fields=allowed_cidrs").json()["listeners"]
    assert listed == [{"allowed_cidrs": listener["allowed_cidrs"]}]
    assert spec_cidrs(sessions, lb["id"]) == ("198.51.100.0/24", "203.0.113.5/32", "10.0.0.0/8")


def test_put_replaces_the_list_and_null_or_empty_clears_it(
    make_lb: Factory,
    make_listener: Factory,
    client: TestClient,
    sessions: sessionmaker[Session],
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"], allowed_cidrs=["198.51.100.0/24"])
    ident = listener["id"]

    replaced = put(client, ident, {"allowed_cidrs": ["203.0.113.0/24", "192.0.2.0/25"]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["listener"]["allowed_cidrs"] == ["203.0.113.0/24", "192.0.2.0/25"]
    assert put(client, ident, {"name": "renamed"}).json()["listener"]["allowed_cidrs"] == [
        "203.0.113.0/24",
        "192.0.2.0/25",
    ]  # a PUT without it keeps it
    assert spec_cidrs(sessions, lb["id"]) == ("203.0.113.0/24", "192.0.2.0/25")

    assert put(client, ident, {"allowed_cidrs": None}).json()["listener"]["allowed_cidrs"] is None
    assert spec_cidrs(sessions, lb["id"]) == ()
    put(client, ident, {"allowed_cidrs": ["192.0.2.0/24"]})
    assert put(client, ident, {"allowed_cidrs": []}).json()["listener"]["allowed_cidrs"] is None


def test_a_network_of_the_other_ip_version_is_refused_as_octavia_does(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()
    vip = lb["vip_address"]
    refused = post(
        client,
        {
            "loadbalancer_id": lb["id"],
            "protocol": "TCP",
            "protocol_port": 22,
            "allowed_cidrs": ["192.0.2.0/24", "fd00:1::/64"],
        },
    )
    assert refused.status_code == 400
    assert refused.json()["faultstring"] == (
        f"Validation failure: CIDR fd00:1::/64 IP version incompatible with VIP {vip} IP version."
    )
    assert client.get(LISTENERS).json()["listeners"] == []  # nothing written

    listener = make_listener(lb["id"], allowed_cidrs=["192.0.2.0/24"])
    again = put(client, listener["id"], {"allowed_cidrs": ["::/0"], "name": "changed"})
    assert again.status_code == 400 and "IP version incompatible" in again.json()["faultstring"]
    after = client.get(f"{LISTENERS}/{listener['id']}").json()["listener"]
    assert (after["allowed_cidrs"], after["name"]) == (["192.0.2.0/24"], "")  # nothing applied


def test_an_ipv6_vip_takes_ipv6_networks(
    make_client: Callable[..., TestClient], make_lb: Factory, make_listener: Factory
) -> None:
    admin = make_client(project=None)
    network = admin.post(
        "/v2/steelyard/networks", json={"network": {"name": "v6", "kind": "bridge"}}
    ).json()["network"]
    subnet = admin.post(
        "/v2/steelyard/subnets",
        json={"subnet": {"network_id": network["id"], "cidr": "fd00:7::/64"}},
    ).json()["subnet"]
    lb = make_lb(vip_subnet_id=subnet["id"])

    listener = make_listener(lb["id"], allowed_cidrs=["fd00:9::/48", "FD00:9::1/48"])
    assert listener["allowed_cidrs"] == ["fd00:9::/48"]
    refused = post(
        admin,
        {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 1,
         "allowed_cidrs": ["0.0.0.0/0"]},
    )  # fmt: skip
    assert refused.status_code == 400
    assert "CIDR 0.0.0.0/0 IP version incompatible" in refused.json()["faultstring"]


def test_fully_populated_create_carries_it_and_a_bad_one_writes_nothing(
    client: TestClient, row_counts: Callable[[], dict[str, int]]
) -> None:
    def create(cidrs: list[str]) -> Any:
        listener = {"protocol": "HTTP", "protocol_port": 80, "allowed_cidrs": cidrs}
        body = {"loadbalancer": {"name": "full", "listeners": [listener]}}
        return client.post("/v2/lbaas/loadbalancers", json=body)

    made = create(["198.51.100.0/24"])
    assert made.status_code == 201, made.text
    (listener,) = made.json()["loadbalancer"]["listeners"]
    assert listener["allowed_cidrs"] == ["198.51.100.0/24"]
    assert shown(client, listener["id"]) == ["198.51.100.0/24"]

    before = row_counts()
    refused = create(["198.51.100.0/24", "2001:db8::/32"])
    assert refused.status_code == 400
    assert "IP version incompatible" in refused.json()["faultstring"]
    assert row_counts() == before


HOSTILE: list[Any] = [
    ["192.0.2.0/24\n"],
    ["192.0.2.0/24\nbind :1"],
    ["192.0.2.0/24 10.0.0.0/8"],
    [" 192.0.2.0/24"],
    ["192.0.2.0/24#"],
    ["#"],
    [""],
    ["192.0.2.0/33"],
    ["192.0.2.256/24"],
    ["010.0.0.0/8"],
    ["fe80::1%eth0/64"],
    ["fd00::/129"],
    ["192.0.2.0/24/8"],
    ["junk"],
    ["a" * 10_000],
    ["192.0.2.0/24", "'; DROP TABLE listeners; --"],
    [f"10.{i // 256}.{i % 256}.0/24" for i in range(1001)],  # more than a thousand
    "192.0.2.0/24",  # not a list
    {"cidr": "192.0.2.0/24"},
    [24],
    [None],
    [["192.0.2.0/24"]],
    7,
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_are_refused(
    value: Any, make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
    created = post(client, {**body, "allowed_cidrs": value})
    assert created.status_code == 400, created.text
    fault = created.json()
    assert set(fault) == {"faultcode", "faultstring", "debuginfo"}
    assert "allowed_cidrs" in fault["faultstring"] and "\n" not in fault["faultstring"]
    assert len(fault["faultstring"]) < 400
    assert client.get(LISTENERS).json()["listeners"] == []

    listener = make_listener(lb["id"], allowed_cidrs=["192.0.2.0/24"])
    assert put(client, listener["id"], {"allowed_cidrs": value}).status_code == 400
    assert shown(client, listener["id"]) == ["192.0.2.0/24"]


def test_a_thousand_networks_are_accepted(make_lb: Factory, make_listener: Factory) -> None:
    cidrs = [f"10.{i // 256}.{i % 256}.0/24" for i in range(1000)]
    listener = make_listener(make_lb()["id"], allowed_cidrs=cidrs)
    assert listener["allowed_cidrs"] == cidrs


def test_another_project_s_listener_is_not_found(
    make_lb: Factory, make_listener: Factory, make_client: Callable[..., TestClient]
) -> None:
    listener = make_listener(make_lb()["id"], allowed_cidrs=["192.0.2.0/24"])
    other = make_client(project="p-beta")
    assert put(other, listener["id"], {"allowed_cidrs": []}).status_code == 404

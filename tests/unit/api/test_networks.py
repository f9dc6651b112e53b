"""The VIP network extension and the Neutron-shaped reads OpenStack clients make."""

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import Factory

NETWORKS = "/v2/steelyard/networks"
SUBNETS = "/v2/steelyard/subnets"


@pytest.fixture
def admin(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(project=None)


def test_everyone_sees_the_shared_default_network(client: TestClient) -> None:
    (network,) = client.get(NETWORKS).json()["networks"]

    assert (network["name"], network["shared"], network["kind"]) == ("public", True, "loopback")
    (subnet,) = network["subnets"]
    assert (subnet["cidr"], subnet["gateway_ip"], subnet["ip_version"]) == (
        "198.18.0.0/24",
        "198.18.0.1",
        4,
    )
    shown = client.get(f"{NETWORKS}/{network['id']}").json()["network"]
    assert shown["id"] == network["id"]
    assert client.get(f"{SUBNETS}/{subnet['id']}").json()["subnet"]["cidr"] == "198.18.0.0/24"


def test_only_admins_change_networks(client: TestClient) -> None:
    body = {"network": {"name": "mine", "kind": "bridge"}}
    assert client.post(NETWORKS, json=body).status_code == 403
    network_id = client.get(NETWORKS).json()["networks"][0]["id"]
    assert client.delete(f"{NETWORKS}/{network_id}").status_code == 403


def test_admin_builds_and_removes_a_network(
    admin: TestClient, client: TestClient, make_lb: Factory
) -> None:
    body = {"network": {"name": "v6", "kind": "bridge", "bridge": "sybr-v6"}}
    network = admin.post(NETWORKS, json=body).json()["network"]
    assert admin.post(NETWORKS, json=body).status_code == 409  # name taken

    def subnet(cidr: str, **extra: str) -> tuple[int, dict[str, Any]]:
        payload = {"subnet": {"network_id": network["id"], "cidr": cidr, **extra}}
        response = admin.post(SUBNETS, json=payload)
        return response.status_code, response.json().get("subnet", {})

    status, v6 = subnet("fd00:5::/64")
    assert status == 201 and v6["gateway_ip"] == "fd00:5::1" and v6["ip_version"] == 6
    assert subnet("fd00:5::/80")[0] == 409  # overlaps
    assert subnet("198.18.9.0/24", gateway_ip="198.18.9.254")[1]["gateway_ip"] == "198.18.9.254"
    assert subnet("198.18.10.0/24", gateway_ip="10.0.0.1")[0] == 400
    assert subnet("198.18.11.1/24")[0] == 400  # host bits
    assert subnet("198.18.12.0/24\n")[0] == 400

    lb = make_lb(vip_network_id=network["id"])
    assert lb["vip_address"] == "198.18.9.1"  # IPv4 first, the gateway is .254
    assert admin.delete(f"{SUBNETS}/{lb['vip_subnet_id']}").status_code == 409
    assert admin.delete(f"{NETWORKS}/{network['id']}").status_code == 409
    assert admin.delete(f"{SUBNETS}/{v6['id']}").status_code == 204

    client.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")
    assert admin.delete(f"{NETWORKS}/{network['id']}").status_code == 409  # until it is gone


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "kind": "bridge"},
        {"name": "x", "kind": "vlan"},
        {"name": "x", "kind": "bridge", "bridge": "br0; rm -rf /"},
        {"name": "x", "kind": "bridge", "bridge": "a-name-much-too-long"},
        {"name": "x", "kind": "bridge", "shared": False},
        {"name": "x\n", "kind": "bridge"},
    ],
)
def test_invalid_networks(admin: TestClient, body: dict[str, object]) -> None:
    assert admin.post(NETWORKS, json={"network": body}).status_code == 400


def test_neutron_reads_for_openstack_clients(client: TestClient) -> None:
    (network,) = client.get(NETWORKS).json()["networks"]
    subnet_id = network["subnets"][0]["id"]

    found = client.get(f"/v2/subnets?id={subnet_id}").json()["subnets"]
    none = client.get("/v2.0/subnets?id=nothing").json()["subnets"]
    by_name = client.get("/v2.0/networks?name=public").json()["networks"]

    assert [s["id"] for s in found] == [subnet_id] and none == []
    assert found[0]["network_id"] == network["id"] and found[0]["cidr"] == "198.18.0.0/24"
    assert by_name[0]["subnets"] == [subnet_id]
    assert client.get(f"/v2.0/networks/{network['id']}").json()["network"]["name"] == "public"
    assert client.get(f"/v2.0/subnets/{subnet_id}").json()["subnet"]["ip_version"] == 4

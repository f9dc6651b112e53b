"""Availability zones and their profiles, and the providers' list and capabilities."""

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import Factory, Json, MakeClient
from tests.unit.api.test_hostile_input import MISSING, assert_fault

PROFILES = "/v2/lbaas/availabilityzoneprofiles"
ZONES = "/v2/lbaas/availabilityzones"
PROVIDERS = "/v2/lbaas/providers"
LBS = "/v2/lbaas/loadbalancers"


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


@pytest.fixture
def make_zone(admin: TestClient) -> Factory:
    def make(name: str, data: Any = None, provider: str = "appliance", **fields: Any) -> Json:
        text = json.dumps(data if data is not None else {"host_group": "rack-1"})
        profile = {"name": name, "provider_name": provider, "availability_zone_data": text}
        created = admin.post(PROFILES, json={"availability_zone_profile": profile})
        assert created.status_code == 201, created.text
        profile_id = created.json()["availability_zone_profile"]["id"]
        body = {"name": name, "availability_zone_profile_id": profile_id, **fields}
        response = admin.post(ZONES, json={"availability_zone": body})
        assert response.status_code == 201, response.text
        zone: Json = response.json()["availability_zone"]
        return zone

    return make


def test_profile_and_zone_crud(admin: TestClient, make_zone: Factory) -> None:
    zone = make_zone("az-1", description="first rack")

    assert zone == {
        "name": "az-1",
        "description": "first rack",
        "enabled": True,
        "availability_zone_profile_id": zone["availability_zone_profile_id"],
    }
    profile = admin.get(f"{PROFILES}/{zone['availability_zone_profile_id']}").json()
    assert profile["availability_zone_profile"]["availability_zone_data"] == (
        '{"host_group": "rack-1"}'
    )
    listed = admin.get(PROFILES).json()
    assert len(listed["availability_zone_profiles"]) == 1
    assert listed["availability_zone_profile_links"] == []
    path = f"{ZONES}/az-1"
    assert admin.get(path).json()["availability_zone"] == zone
    changed = admin.put(path, json={"availability_zone": {"enabled": False, "description": None}})
    assert changed.json()["availability_zone"] | {"enabled": True, "description": "first rack"} == (
        zone
    )
    assert_fault(admin.put(path, json={"availability_zone": {"name": "az-2"}}), 400)
    assert_fault(admin.put(path, json={"availability_zone": {"enabled": None}}), 400)
    assert admin.delete(path).status_code == 204
    assert_fault(admin.get(path), 404)
    assert admin.delete(f"{PROFILES}/{zone['availability_zone_profile_id']}").status_code == 204


def test_zone_names_are_unique_keys(admin: TestClient, make_zone: Factory) -> None:
    zone = make_zone("az-1")
    body = {"name": "az-1", "availability_zone_profile_id": zone["availability_zone_profile_id"]}

    text = assert_fault(admin.post(ZONES, json={"availability_zone": body}), 409)
    assert text == "A availability zone of az-1 already exists."
    for name in ("", "a/b", "x\n", "x" * 256):
        body = {"name": name, "availability_zone_profile_id": zone["availability_zone_profile_id"]}
        assert_fault(admin.post(ZONES, json={"availability_zone": body}), 400)
    body = {"name": "az-2", "availability_zone_profile_id": MISSING}
    assert "availability_zone_profile_id" in assert_fault(
        admin.post(ZONES, json={"availability_zone": body}), 400
    )


def test_zones_page_by_name(admin: TestClient, make_zone: Factory) -> None:
    for name in ("b", "c", "a"):
        make_zone(name)

    first = admin.get(f"{ZONES}?sort=name&limit=2").json()

    assert [z["name"] for z in first["availability_zones"]] == ["a", "b"]
    link = first["availability_zones_links"][0]
    assert link["rel"] == "next" and "marker=b" in link["href"]
    rest = admin.get(link["href"]).json()["availability_zones"]
    assert [z["name"] for z in rest] == ["c"]


def test_only_admins_manage_and_others_see_enabled_zones(
    make_client: MakeClient, make_zone: Factory
) -> None:
    shown = make_zone("shown")
    make_zone("hidden", enabled=False)
    profile = {"name": "x", "provider_name": "appliance", "availability_zone_data": "{}"}

    for client in (make_client(), make_client(roles="reader")):
        zones = client.get(ZONES).json()["availability_zones"]
        assert [z["name"] for z in zones] == ["shown"]
        assert_fault(client.get(f"{ZONES}/hidden"), 404)
        body = {"name": "x", "availability_zone_profile_id": shown["availability_zone_profile_id"]}
        assert_fault(client.post(ZONES, json={"availability_zone": body}), 403)
        assert_fault(client.put(f"{ZONES}/shown", json={"availability_zone": {}}), 403)
        assert_fault(client.delete(f"{ZONES}/shown"), 403)
        assert_fault(client.get(PROFILES), 403)
        assert_fault(client.post(PROFILES, json={"availability_zone_profile": profile}), 403)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"host_group": "rack 1"}', "availability_zone_data.host_group"),
        ('{"host_group": "rack;reboot"}', "availability_zone_data.host_group"),
        ('{"host_group": "-rack"}', "availability_zone_data.host_group"),
        ('{"host_group": "' + "r" * 64 + '"}', "availability_zone_data.host_group"),
        ('{"host_group": "rack\\n1"}', "availability_zone_data.host_group"),
        ('{"host_group": 1}', "availability_zone_data.host_group"),
        ('{"compute_zone": "nova"}', "Unknown attribute: compute_zone"),
        ("[]", "availability_zone_data must be a JSON object"),
        ("{", "is not a valid option for availability_zone_data"),
    ],
)
def test_hostile_zone_data_is_refused(admin: TestClient, data: str, expected: str) -> None:
    body = {"name": "z", "provider_name": "appliance", "availability_zone_data": data}

    text = assert_fault(admin.post(PROFILES, json={"availability_zone_profile": body}), 400)

    assert expected in text and "\n" not in text
    assert admin.get(PROFILES).json()["availability_zone_profiles"] == []


def test_load_balancers_take_an_enabled_zone_of_their_provider(
    client: TestClient, make_lb: Factory, make_zone: Factory, admin: TestClient, row_counts: Any
) -> None:
    make_zone("az-1")
    make_zone("off", enabled=False)
    make_zone("noop-zone", {"free": ["form"]}, provider="noop")

    lb = make_lb(availability_zone="az-1")

    assert lb["availability_zone"] == "az-1"
    before = row_counts()
    for name, expected in (
        ("nowhere", "Validation failure: Invalid availability zone."),
        ("off", "The selected availability_zone is not allowed in this deployment: off"),
        ("noop-zone", "Availability zone 'noop-zone' is not compatible with provider 'appliance'"),
    ):
        body = {"loadbalancer": {"availability_zone": name}}
        assert assert_fault(client.post(LBS, json=body), 400) == expected
    assert row_counts() == before
    assert make_lb(availability_zone="noop-zone", provider="noop")["provider"] == "noop"
    text = assert_fault(admin.delete(f"{ZONES}/az-1"), 409)
    assert text == "Availability Zone az-1 is in use and cannot be modified."


def test_providers_and_their_capabilities(client: TestClient, admin: TestClient) -> None:
    providers = client.get(PROVIDERS).json()["providers"]

    assert providers == [
        {"name": "appliance", "description": "Steelyard HAProxy appliances"},
        {"name": "noop", "description": "API only, no data plane"},
    ]
    assert client.get(f"{PROVIDERS}?fields=name").json()["providers"] == [
        {"name": "appliance"},
        {"name": "noop"},
    ]
    flavor = admin.get(f"{PROVIDERS}/appliance/flavor_capabilities").json()["flavor_capabilities"]
    names = [capability["name"] for capability in flavor]
    assert names == [
        "loadbalancer_topology",
        "appliance_count",
        "haproxy_threads",
        "compute_flavor",
    ]
    assert all(capability["description"] for capability in flavor)
    zone = admin.get(f"{PROVIDERS}/appliance/availability_zone_capabilities").json()
    assert [c["name"] for c in zone["availability_zone_capabilities"]] == ["host_group"]
    filtered = admin.get(f"{PROVIDERS}/appliance/flavor_capabilities?name=haproxy_threads")
    assert [c["name"] for c in filtered.json()["flavor_capabilities"]] == ["haproxy_threads"]
    assert admin.get(f"{PROVIDERS}/noop/flavor_capabilities").json() == {"flavor_capabilities": []}
    text = assert_fault(admin.get(f"{PROVIDERS}/amphora/flavor_capabilities"), 400)
    assert text == "Provider 'amphora' is not enabled."
    assert_fault(admin.get(f"{PROVIDERS}/%0Aevil/availability_zone_capabilities"), 400)
    assert_fault(client.get(f"{PROVIDERS}/appliance/flavor_capabilities"), 403)
    assert_fault(client.get(f"{PROVIDERS}/appliance/availability_zone_capabilities"), 403)

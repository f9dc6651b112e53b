"""Flavor profiles and flavors: admin CRUD, who sees what, strict provider data, and what a
flavor makes of a new load balancer."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from steelyard.db import models
from steelyard.model.enums import Topology
from tests.unit.api.conftest import Factory, Json, MakeClient
from tests.unit.api.test_hostile_input import MISSING, assert_fault

PROFILES = "/v2/lbaas/flavorprofiles"
FLAVORS = "/v2/lbaas/flavors"
LBS = "/v2/lbaas/loadbalancers"
LbRow = Callable[[str], models.LoadBalancer]


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


@pytest.fixture
def make_flavor(admin: TestClient) -> Factory:
    """A flavor of a new profile with this flavor data (a dict, or the JSON text itself)."""

    def make(data: Any = None, provider: str = "appliance", **fields: Any) -> Json:
        text = data if isinstance(data, str) else json.dumps(data or {})
        profile = {"name": "p", "provider_name": provider, "flavor_data": text}
        created = admin.post(PROFILES, json={"flavorprofile": profile})
        assert created.status_code == 201, created.text
        body = {"name": f"f{created.json()['flavorprofile']['id'][:8]}", **fields}
        body["flavor_profile_id"] = created.json()["flavorprofile"]["id"]
        response = admin.post(FLAVORS, json={"flavor": body})
        assert response.status_code == 201, response.text
        flavor: Json = response.json()["flavor"]
        return flavor

    return make


def test_profile_crud(admin: TestClient) -> None:
    data = '{"loadbalancer_topology": "ACTIVE_STANDBY"}'
    body = {"name": "ha", "provider_name": "appliance", "flavor_data": data}

    created = admin.post(PROFILES, json={"flavorprofile": body})

    assert created.status_code == 201
    profile = created.json()["flavorprofile"]
    assert set(profile) == {"id", "name", "provider_name", "flavor_data"}
    assert profile["flavor_data"] == data  # a JSON string, kept as sent
    path = f"{PROFILES}/{profile['id']}"
    assert admin.get(path).json()["flavorprofile"] == profile
    listed = admin.get(PROFILES).json()
    assert listed["flavorprofiles"] == [profile] and listed["flavorprofile_links"] == []
    renamed = admin.put(path, json={"flavorprofile": {"name": "ha2"}})
    assert renamed.status_code == 200 and renamed.json()["flavorprofile"]["name"] == "ha2"
    assert admin.get(f"{PROFILES}?fields=name").json()["flavorprofiles"] == [{"name": "ha2"}]
    assert admin.delete(path).status_code == 204
    assert_fault(admin.get(path), 404)


def test_flavor_crud(admin: TestClient, make_flavor: Factory) -> None:
    flavor = make_flavor({"loadbalancer_topology": "SINGLE"}, description="small")

    assert set(flavor) == {"id", "name", "description", "enabled", "flavor_profile_id"}
    assert flavor["enabled"] is True and flavor["description"] == "small"
    path = f"{FLAVORS}/{flavor['id']}"
    updated = admin.put(path, json={"flavor": {"enabled": False, "description": None}})
    assert updated.status_code == 200
    assert updated.json()["flavor"] | {"enabled": True, "description": "small"} == flavor
    assert_fault(admin.put(path, json={"flavor": {"name": None}}), 400)
    assert_fault(admin.put(path, json={"flavor": {"flavor_profile_id": MISSING}}), 400)
    assert admin.delete(path).status_code == 204
    assert_fault(admin.delete(path), 404)


def test_flavor_names_are_unique_and_profiles_must_exist(
    admin: TestClient, make_flavor: Factory
) -> None:
    flavor = make_flavor()
    body = {"name": flavor["name"], "flavor_profile_id": flavor["flavor_profile_id"]}

    text = assert_fault(admin.post(FLAVORS, json={"flavor": body}), 409)
    assert text == f"A flavor of {flavor['name']} already exists."
    body = {"name": "other", "flavor_profile_id": MISSING}
    text = assert_fault(admin.post(FLAVORS, json={"flavor": body}), 400)
    assert text == f"{MISSING} is not a valid option for flavor_profile_id"


def test_only_admins_manage_and_others_see_enabled_flavors(
    make_client: MakeClient, make_flavor: Factory
) -> None:
    shown = make_flavor(name="shown")
    hidden = make_flavor(name="hidden", enabled=False)
    member, reader = make_client(), make_client(roles="reader")
    profile = {"name": "x", "provider_name": "appliance", "flavor_data": "{}"}
    flavor = {"name": "x", "flavor_profile_id": shown["flavor_profile_id"]}

    for client in (member, reader):
        assert [f["name"] for f in client.get(FLAVORS).json()["flavors"]] == ["shown"]
        assert client.get(f"{FLAVORS}/{shown['id']}").status_code == 200
        assert_fault(client.get(f"{FLAVORS}/{hidden['id']}"), 404)
        assert_fault(client.post(FLAVORS, json={"flavor": flavor}), 403)
        assert_fault(client.put(f"{FLAVORS}/{shown['id']}", json={"flavor": {}}), 403)
        assert_fault(client.delete(f"{FLAVORS}/{shown['id']}"), 403)
        assert_fault(client.get(PROFILES), 403)
        assert_fault(client.get(f"{PROFILES}/{shown['flavor_profile_id']}"), 403)
        assert_fault(client.post(PROFILES, json={"flavorprofile": profile}), 403)
        assert_fault(client.delete(f"{PROFILES}/{shown['flavor_profile_id']}"), 403)
    assert len(make_client(project=None).get(FLAVORS).json()["flavors"]) == 2


def test_flavor_lists_page_filter_and_sort(admin: TestClient, make_flavor: Factory) -> None:
    for name in ("c", "a", "b"):
        make_flavor(name=name, enabled=name != "b")

    names = [f["name"] for f in admin.get(f"{FLAVORS}?sort=name:asc").json()["flavors"]]
    assert names == ["a", "b", "c"]
    assert [f["name"] for f in admin.get(f"{FLAVORS}?enabled=false").json()["flavors"]] == ["b"]
    first = admin.get(f"{FLAVORS}?sort=name&limit=2").json()
    assert [f["name"] for f in first["flavors"]] == ["a", "b"]
    assert first["flavors_links"][0]["rel"] == "next"
    rest = admin.get(first["flavors_links"][0]["href"]).json()
    assert [f["name"] for f in rest["flavors"]] == ["c"]
    assert_fault(admin.get(f"{FLAVORS}?flavor_data=x"), 400)


HOSTILE_FLAVOR_DATA = [
    ("not json", "is not a valid option for flavor_data"),
    ('{"loadbalancer_topology": "SINGLE"', "is not a valid option for flavor_data"),
    ("[" * 4000, "is not a valid option for flavor_data"),  # nesting deeper than Python's stack
    ('{"a": 1, "a": 2}', "is not a valid option for flavor_data"),
    ("[1, 2]", "flavor_data must be a JSON object"),
    ('"SINGLE"', "flavor_data must be a JSON object"),
    ("null", "flavor_data must be a JSON object"),
    ('{"loadbalancer_topology": "single"}', "flavor_data.loadbalancer_topology"),
    ('{"loadbalancer_topology": "SINGLE\\n"}', "flavor_data.loadbalancer_topology"),
    ('{"loadbalancer_topology": ["SINGLE"]}', "flavor_data.loadbalancer_topology"),
    ('{"haproxy_threads": "4"}', "flavor_data.haproxy_threads"),
    ('{"haproxy_threads": true}', "flavor_data.haproxy_threads"),
    ('{"haproxy_threads": 4.5}', "flavor_data.haproxy_threads"),
    ('{"haproxy_threads": 0}', "flavor_data.haproxy_threads"),
    ('{"haproxy_threads": 65}', "flavor_data.haproxy_threads"),
    ('{"haproxy_threads": 1e308}', "flavor_data.haproxy_threads"),
    ('{"appliance_count": 3}', "only valid with ACTIVE_ACTIVE"),
    ('{"loadbalancer_topology": "ACTIVE_ACTIVE", "appliance_count": 1}', "appliance_count"),
    ('{"loadbalancer_topology": "ACTIVE_ACTIVE", "appliance_count": 9}', "appliance_count"),
    ('{"loadbalancer_topology": "ACTIVE_ACTIVE", "appliance_count": 99999999999999999999}', "appl"),
    ('{"compute_flavor": "m1\\nbind *:1"}', "control characters"),
    ('{"compute_flavor": {"nested": [{"junk": 1}]}}', "flavor_data.compute_flavor"),
    ('{"compute_flavor": "' + "x" * 300 + '"}', "flavor_data.compute_flavor"),
    ('{"amp_image_tag": "x"}', "Unknown attribute: amp_image_tag"),
    ('{"": 1}', "Unknown attribute"),
]


@pytest.mark.parametrize(("data", "expected"), HOSTILE_FLAVOR_DATA)
def test_hostile_flavor_data_is_refused(
    admin: TestClient, row_counts: Any, data: str, expected: str
) -> None:
    body = {"name": "bad", "provider_name": "appliance", "flavor_data": data}

    text = assert_fault(admin.post(PROFILES, json={"flavorprofile": body}), 400)

    assert expected in text
    assert len(text) < 400 and "\n" not in text
    assert admin.get(PROFILES).json()["flavorprofiles"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "provider_name": "appliance", "flavor_data": "{}" + " " * 5000},
        {"name": "x", "provider_name": "appliance", "flavor_data": {"loadbalancer_topology": 1}},
        {"name": "x", "provider_name": "appliance"},
        {"name": "x\n", "provider_name": "appliance", "flavor_data": "{}"},
        {"name": "x", "provider_name": "octavia", "flavor_data": "{}"},
        {"name": "x", "provider_name": "amphora\n", "flavor_data": "{}"},
        {"name": "x", "provider_name": "appliance", "flavor_data": "{}", "id": MISSING},
    ],
)
def test_hostile_profile_bodies_are_refused(admin: TestClient, body: Json) -> None:
    text = assert_fault(admin.post(PROFILES, json={"flavorprofile": body}), 400)

    assert "\n" not in text and len(text) < 400


def test_names_with_quotes_are_kept_verbatim(admin: TestClient, make_flavor: Factory) -> None:
    name = 'it\'s "quoted" ${x} ünï'
    flavor = make_flavor(name=name, description=name)

    assert admin.get(f"{FLAVORS}/{flavor['id']}").json()["flavor"]["name"] == name


def test_the_noop_provider_takes_any_json_object(admin: TestClient) -> None:
    data = '{"anything": [1, {"nested": true}], "loadbalancer_topology": "bogus"}'
    body = {"name": "n", "provider_name": "noop", "flavor_data": data}

    assert admin.post(PROFILES, json={"flavorprofile": body}).status_code == 201
    body["flavor_data"] = "[]"
    assert "must be a JSON object" in assert_fault(
        admin.post(PROFILES, json={"flavorprofile": body}), 400
    )


def test_profile_data_is_checked_on_update_and_frozen_while_in_use(
    admin: TestClient, make_flavor: Factory
) -> None:
    flavor = make_flavor({"loadbalancer_topology": "SINGLE"})
    path = f"{PROFILES}/{flavor['flavor_profile_id']}"

    for change in ({"flavor_data": "{}"}, {"provider_name": "noop"}):
        text = assert_fault(admin.put(path, json={"flavorprofile": change}), 409)
        assert (
            text
            == f"Flavor profile {flavor['flavor_profile_id']} is in use and cannot be modified."
        )
    assert admin.put(path, json={"flavorprofile": {"name": "renamed"}}).status_code == 200
    assert_fault(admin.delete(path), 409)

    assert admin.delete(f"{FLAVORS}/{flavor['id']}").status_code == 204
    bad = {"flavor_data": '{"haproxy_threads": -1}'}
    assert "haproxy_threads" in assert_fault(admin.put(path, json={"flavorprofile": bad}), 400)
    assert_fault(admin.put(path, json={"flavorprofile": {"flavor_data": None}}), 400)
    good = {"flavor_data": '{"haproxy_threads": 2}'}
    assert admin.put(path, json={"flavorprofile": good}).json()["flavorprofile"]["flavor_data"] == (
        '{"haproxy_threads": 2}'
    )
    assert admin.delete(path).status_code == 204


def test_a_flavor_sets_the_topology_of_new_load_balancers(
    make_lb: Factory, make_flavor: Factory, lb_row: LbRow, admin: TestClient
) -> None:
    single = make_lb()
    pair = make_lb(flavor_id=make_flavor({"loadbalancer_topology": "ACTIVE_STANDBY"})["id"])
    spread = make_flavor({"loadbalancer_topology": "ACTIVE_ACTIVE", "appliance_count": 4})
    trio = make_lb(flavor_id=spread["id"])
    duo = make_lb(flavor_id=make_flavor({"loadbalancer_topology": "ACTIVE_ACTIVE"})["id"])

    shapes = [
        (lb_row(lb["id"]).topology, lb_row(lb["id"]).appliance_count)
        for lb in (single, pair, trio, duo)
    ]
    assert shapes == [
        ("SINGLE", 1),
        ("ACTIVE_STANDBY", 2),
        ("ACTIVE_ACTIVE", 4),
        ("ACTIVE_ACTIVE", 2),
    ]
    assert pair["flavor_id"] is not None and pair["provider"] == "appliance"
    # the flavor in use cannot go, and a later change of it leaves the load balancer as it is
    assert_fault(admin.delete(f"{FLAVORS}/{spread['id']}"), 409)
    admin.put(f"{FLAVORS}/{spread['id']}", json={"flavor": {"enabled": False}})
    assert lb_row(trio["id"]).appliance_count == 4


def test_the_operator_default_topology_applies_without_a_flavor_topology(
    make_client: MakeClient, make_flavor: Factory, lb_row: LbRow
) -> None:
    client = make_client(default_topology=Topology.ACTIVE_STANDBY)
    threads_only = make_flavor({"haproxy_threads": 2})

    plain = client.post(LBS, json={"loadbalancer": {}}).json()["loadbalancer"]
    flavored = client.post(LBS, json={"loadbalancer": {"flavor_id": threads_only["id"]}})

    assert lb_row(plain["id"]).topology == "ACTIVE_STANDBY"
    assert lb_row(flavored.json()["loadbalancer"]["id"]).appliance_count == 2


def test_unusable_flavors_and_providers_are_refused(
    client: TestClient, make_flavor: Factory, row_counts: Any, notified: list[str]
) -> None:
    disabled = make_flavor(enabled=False)
    noop = make_flavor({"x": 1}, provider="noop")
    before = row_counts()
    cases = [
        ({"flavor_id": MISSING}, "Validation failure: Invalid flavor_id."),
        (
            {"flavor_id": disabled["id"]},
            f"The selected flavor is not allowed in this deployment: {disabled['id']}",
        ),
        (
            {"flavor_id": noop["id"], "provider": "appliance"},
            f"Flavor '{noop['id']}' is not compatible with provider 'appliance'",
        ),
        ({"provider": "amphora"}, "Provider 'amphora' is not enabled."),
        ({"provider": ""}, "Provider '' is not enabled."),
        ({"provider": "x\ny"}, "control characters"),
        ({"flavor_id": "x" * 5000}, "loadbalancer.flavor_id"),
    ]
    for fields, expected in cases:
        text = assert_fault(client.post(LBS, json={"loadbalancer": fields}), 400)
        assert expected in text, fields

    assert row_counts() == before and notified == []


def test_a_noop_flavor_gives_a_noop_load_balancer(
    make_lb: Factory, make_flavor: Factory, lb_row: LbRow
) -> None:
    noop = make_flavor({"loadbalancer_topology": "ignored"}, provider="noop")

    by_flavor = make_lb(flavor_id=noop["id"])
    by_name = make_lb(provider="noop")

    assert by_flavor["provider"] == by_name["provider"] == "noop"
    assert lb_row(by_flavor["id"]).topology == "SINGLE"

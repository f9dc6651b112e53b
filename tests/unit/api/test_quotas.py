"""Quotas: the API (Octavia's shapes, both spellings), who may read and set them, and their
enforcement on every create: a refused request answers 403 and changes nothing."""

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import OTHER, PROJECT, Factory, Json, MakeClient
from tests.unit.api.test_hostile_input import assert_fault

QUOTAS = "/v2/lbaas/quotas"
LBS = "/v2/lbaas/loadbalancers"
Counts = Callable[[], dict[str, int]]
UNLIMITED = {
    "load_balancer": -1,
    "loadbalancer": -1,
    "listener": -1,
    "pool": -1,
    "health_monitor": -1,
    "healthmonitor": -1,
    "member": -1,
    "l7policy": -1,
    "l7rule": -1,
}


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


@pytest.fixture
def set_quota(admin: TestClient) -> Callable[..., Json]:
    def put(project: str = PROJECT, **limits: Any) -> Json:
        response = admin.put(f"{QUOTAS}/{project}", json={"quota": limits})
        assert response.status_code == 202, response.text
        quota: Json = response.json()["quota"]
        return quota

    return put


def test_everything_is_unlimited_by_default(client: TestClient) -> None:
    assert client.get(f"{QUOTAS}/defaults").json() == {"quota": UNLIMITED}
    assert client.get(f"{QUOTAS}/{PROJECT}").json() == {
        "quota": {**UNLIMITED, "project_id": PROJECT}
    }
    assert client.get(f"{QUOTAS}/{PROJECT}/default").json() == {"quota": UNLIMITED}
    assert client.get(QUOTAS).json() == {"quotas": [], "quotas_links": []}


def test_set_show_list_and_reset(
    admin: TestClient, client: TestClient, set_quota: Callable[..., Json]
) -> None:
    quota = set_quota(loadbalancer=5, health_monitor=0, member="50")

    expected = {
        **UNLIMITED,
        "project_id": PROJECT,
        "load_balancer": 5,
        "loadbalancer": 5,
        "health_monitor": 0,
        "healthmonitor": 0,
        "member": 50,
    }
    assert quota == expected
    assert client.get(f"{QUOTAS}/{PROJECT}").json()["quota"] == expected
    stored = {kind: None for kind in UNLIMITED} | {
        "load_balancer": 5,
        "loadbalancer": 5,
        "health_monitor": 0,
        "healthmonitor": 0,
        "member": 50,
    }
    assert admin.get(QUOTAS).json()["quotas"] == [{**stored, "project_id": PROJECT}]
    assert set_quota(member=None)["member"] == -1  # null: back to the default
    assert admin.delete(f"{QUOTAS}/{PROJECT}").status_code == 204
    assert admin.delete(f"{QUOTAS}/{PROJECT}").status_code == 204  # nothing to reset
    assert client.get(f"{QUOTAS}/{PROJECT}").json()["quota"] == {**UNLIMITED, "project_id": PROJECT}


def test_lists_page_and_filter_by_project(
    admin: TestClient, set_quota: Callable[..., Json]
) -> None:
    for project in ("p3", "p1", "p2"):
        set_quota(project, pool=1)

    first = admin.get(f"{QUOTAS}?sort=project_id&limit=2").json()

    assert [q["project_id"] for q in first["quotas"]] == ["p1", "p2"]
    rest = admin.get(first["quotas_links"][0]["href"]).json()["quotas"]
    assert [q["project_id"] for q in rest] == ["p3"]
    assert [q["project_id"] for q in admin.get(f"{QUOTAS}?project_id=p2").json()["quotas"]] == [
        "p2"
    ]


def test_tenants_read_only_their_own(
    make_client: MakeClient, set_quota: Callable[..., Json]
) -> None:
    set_quota(PROJECT, pool=3)
    set_quota(OTHER, pool=4)

    for client in (make_client(), make_client(roles="reader")):
        assert [q["project_id"] for q in client.get(QUOTAS).json()["quotas"]] == [PROJECT]
        assert client.get(f"{QUOTAS}/{PROJECT}").json()["quota"]["pool"] == 3
        assert_fault(client.get(f"{QUOTAS}/{OTHER}"), 403)
        assert_fault(client.put(f"{QUOTAS}/{PROJECT}", json={"quota": {"pool": 99}}), 403)
        assert_fault(client.delete(f"{QUOTAS}/{PROJECT}"), 403)
        assert_fault(client.put(f"{QUOTAS}/defaults", json={"quota": {"pool": 99}}), 403)
        assert_fault(client.delete(f"{QUOTAS}/defaults"), 403)
    assert make_client().get(f"{QUOTAS}/{PROJECT}").json()["quota"]["pool"] == 3


@pytest.mark.parametrize(
    "limits",
    [
        {"pool": -2},
        {"pool": 2_000_000_001},
        {"pool": 1.5},
        {"pool": True},
        {"pool": "many"},
        {"pool": [1]},
        {"loadbalancer": 1, "load_balancer": 2},
        {"healthmonitor": 1, "health_monitor": None},
        {"project_id": OTHER},
        {"amphora": 1},
    ],
)
def test_bad_limits_are_refused(admin: TestClient, limits: Json) -> None:
    text = assert_fault(admin.put(f"{QUOTAS}/{PROJECT}", json={"quota": limits}), 400)

    assert "\n" not in text
    assert admin.get(QUOTAS).json()["quotas"] == []


@pytest.mark.parametrize("project", ["x" * 256, "a b", "a%0Ab", "%27%20OR%201=1"])
def test_bad_project_ids_are_refused(admin: TestClient, project: str) -> None:
    for response in (
        admin.get(f"{QUOTAS}/{project}"),
        admin.put(f"{QUOTAS}/{project}", json={"quota": {"pool": 1}}),
        admin.delete(f"{QUOTAS}/{project}"),
    ):
        text = assert_fault(response, 400)
        assert "\n" not in text and len(text) < 200


def test_deployment_defaults_apply_to_projects_without_their_own(
    admin: TestClient, client: TestClient, make_lb: Factory, set_quota: Callable[..., Json]
) -> None:
    changed = admin.put(f"{QUOTAS}/defaults", json={"quota": {"loadbalancer": 1, "pool": 7}})
    assert changed.status_code == 202
    assert changed.json()["quota"] == {
        **UNLIMITED,
        "load_balancer": 1,
        "loadbalancer": 1,
        "pool": 7,
    }
    assert client.get(f"{QUOTAS}/{PROJECT}").json()["quota"]["pool"] == 7

    make_lb()
    text = assert_fault(client.post(LBS, json={"loadbalancer": {}}), 403)
    assert text == "Quota has been met for resources: Load Balancer"
    set_quota(load_balancer=-1)  # the project's own limit wins
    make_lb()
    assert admin.delete(f"{QUOTAS}/defaults").status_code == 204
    assert admin.get(f"{QUOTAS}/defaults").json()["quota"] == UNLIMITED


def test_load_balancer_quota(
    client: TestClient,
    make_lb: Factory,
    set_quota: Callable[..., Json],
    row_counts: Counts,
    notified: list[str],
) -> None:
    set_quota(load_balancer=1)
    first = make_lb()
    before, wakes = row_counts(), list(notified)

    text = assert_fault(client.post(LBS, json={"loadbalancer": {}}), 403)

    assert text == "Quota has been met for resources: Load Balancer"
    assert row_counts() == before and notified == wakes
    # one being deleted no longer counts
    assert client.delete(f"{LBS}/{first['id']}").status_code == 204
    make_lb()


FULL = {
    "listeners": [
        {
            "protocol": "HTTP",
            "protocol_port": 80,
            "default_pool": {
                "name": "web",
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "members": [
                    {"address": "192.0.2.10", "protocol_port": 80},
                    {"address": "192.0.2.11", "protocol_port": 80},
                    {"address": "192.0.2.12", "protocol_port": 80},
                ],
                "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3},
            },
        }
    ],
}


@pytest.mark.parametrize(
    ("limits", "refused"),
    [
        ({"member": 2}, "Member"),
        ({"pool": 0}, "Pool"),
        ({"listener": 0}, "Listener"),
        ({"health_monitor": 0}, "Health Monitor"),
        ({"member": 0, "pool": 0}, "Pool, Member"),
    ],
)
def test_a_fully_populated_create_counts_everything_it_would_add(
    client: TestClient,
    set_quota: Callable[..., Json],
    row_counts: Counts,
    limits: Json,
    refused: str,
) -> None:
    set_quota(**limits)
    before = row_counts()

    text = assert_fault(client.post(LBS, json={"loadbalancer": FULL}), 403)

    assert text == f"Quota has been met for resources: {refused}"
    assert row_counts() == before


def test_a_fully_populated_create_within_the_quota_passes(
    client: TestClient, set_quota: Callable[..., Json]
) -> None:
    set_quota(load_balancer=1, listener=1, pool=1, member=3, health_monitor=1)

    response = client.post(LBS, json={"loadbalancer": FULL})

    assert response.status_code == 201, response.text


def test_child_creates_are_counted(
    client: TestClient,
    make_lb: Factory,
    make_listener: Factory,
    make_pool: Factory,
    make_member: Factory,
    set_quota: Callable[..., Json],
    row_counts: Counts,
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    pool = make_pool(loadbalancer_id=lb["id"])
    make_member(pool["id"])
    set_quota(listener=1, pool=1, member=1, health_monitor=0)
    before = row_counts()
    pool_with_members = {
        "loadbalancer_id": lb["id"],
        "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN",
    }
    refused = [
        (
            "/v2/lbaas/listeners",
            "listener",
            {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 81},
            "Listener",
        ),
        ("/v2/lbaas/pools", "pool", pool_with_members, "Pool"),
        (
            f"/v2/lbaas/pools/{pool['id']}/members",
            "member",
            {"address": "192.0.2.99", "protocol_port": 80},
            "Member",
        ),
        (
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            {"pool_id": pool["id"], "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3},
            "Health Monitor",
        ),
    ]
    for path, key, body, name in refused:
        text = assert_fault(client.post(path, json={key: body}), 403)
        assert text == f"Quota has been met for resources: {name}", path
    assert row_counts() == before
    assert listener["id"]


def test_member_batches_are_judged_by_what_they_add(
    client: TestClient,
    make_lb: Factory,
    make_pool: Factory,
    make_member: Factory,
    set_quota: Callable[..., Json],
    row_counts: Counts,
) -> None:
    pool = make_pool(loadbalancer_id=make_lb()["id"])
    for host in (1, 2):
        make_member(pool["id"], address=f"192.0.2.{host}")
    set_quota(member=2)
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    before = row_counts()

    grown = [{"address": f"192.0.2.{host}", "protocol_port": 8080} for host in (1, 2, 3)]
    text = assert_fault(client.put(path, json={"members": grown}), 403)
    assert text == "Quota has been met for resources: Member"
    assert row_counts() == before
    members = client.get(path).json()["members"]
    assert sorted(m["address"] for m in members) == ["192.0.2.1", "192.0.2.2"]

    swapped = [{"address": f"192.0.2.{host}", "protocol_port": 8080} for host in (2, 3)]
    assert client.put(path, json={"members": swapped}).status_code == 202
    additive = client.put(f"{path}?additive_only=true", json={"members": grown})
    assert additive.status_code == 403


def test_a_quota_below_usage_blocks_only_that_kind(
    client: TestClient,
    make_lb: Factory,
    make_listener: Factory,
    set_quota: Callable[..., Json],
) -> None:
    lb = make_lb()
    make_lb()
    set_quota(load_balancer=1)

    make_listener(lb["id"])  # other kinds are not held back by an exceeded one
    assert_fault(client.post(LBS, json={"loadbalancer": {}}), 403)


def test_quotas_are_per_project(
    make_client: MakeClient, make_lb: Factory, set_quota: Callable[..., Json]
) -> None:
    set_quota(PROJECT, load_balancer=0)

    other = make_client(project=OTHER)

    assert other.post(LBS, json={"loadbalancer": {}}).status_code == 201
    assert_fault(make_client().post(LBS, json={"loadbalancer": {}}), 403)
    admin_for = make_client(project=None).post(LBS, json={"loadbalancer": {"project_id": PROJECT}})
    assert_fault(admin_for, 403)


def test_l7_policies_and_rules_are_counted(
    client: TestClient,
    make_lb: Factory,
    make_listener: Factory,
    set_quota: Callable[..., Json],
    row_counts: Counts,
) -> None:
    listener = make_listener(make_lb()["id"])
    set_quota(l7policy=1, l7rule=1)
    url = "/v2/lbaas/l7policies"
    rule = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}
    policy = {"listener_id": listener["id"], "action": "REJECT"}

    two_rules = {**policy, "rules": [rule, {**rule, "value": "/b"}]}
    text = assert_fault(client.post(url, json={"l7policy": two_rules}), 403)
    assert text == "Quota has been met for resources: L7 Rule"
    assert client.get(url).json()["l7policies"] == []
    created = client.post(url, json={"l7policy": {**policy, "rules": [rule]}})
    assert created.status_code == 201, created.text
    before = row_counts()

    text = assert_fault(client.post(url, json={"l7policy": policy}), 403)
    assert text == "Quota has been met for resources: L7 Policy"
    rules = f"{url}/{created.json()['l7policy']['id']}/rules"
    text = assert_fault(client.post(rules, json={"rule": {**rule, "value": "/c"}}), 403)
    assert text == "Quota has been met for resources: L7 Rule"
    assert row_counts() == before and len(client.get(rules).json()["rules"]) == 1

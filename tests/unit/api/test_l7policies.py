"""/v2/lbaas/l7policies: Octavia's fields, defaults, positions, redirects and their checks."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models
from steelyard.db.access import utcnow
from steelyard.db.outcomes import record_deleted, record_snapshot_applied
from steelyard.db.snapshot import load_snapshot
from tests.unit.api.conftest import OTHER, Factory, Json, MakeClient, created

URL = "/v2/lbaas/l7policies"
Stack = tuple[Json, Json, Json]  # load balancer, HTTP listener, HTTP pool


@pytest.fixture
def stack(make_lb: Factory, make_listener: Factory, make_pool: Factory) -> Stack:
    lb = make_lb()
    listener = make_listener(lb["id"])
    return lb, listener, make_pool(loadbalancer_id=lb["id"], name="images")


def post(client: TestClient, listener: Json, **fields: Any) -> Any:
    body = {"listener_id": listener["id"], "action": "REJECT", **fields}
    return client.post(URL, json={"l7policy": body})


def make(client: TestClient, listener: Json, **fields: Any) -> Json:
    return created(post(client, listener, **fields), "l7policy")


def positions(client: TestClient, listener: Json) -> list[tuple[str, int]]:
    shown = client.get(f"/v2/lbaas/listeners/{listener['id']}").json()["listener"]
    order = [ref["id"] for ref in shown["l7policies"]]
    names = {p["id"]: (p["name"], p["position"]) for p in client.get(URL).json()["l7policies"]}
    return [names[ident] for ident in order]


def test_create_shows_octavias_fields_and_defaults(
    stack: Stack,
    client: TestClient,
    lb_row: Callable[[str], models.LoadBalancer],
    settle: Callable[[], None],
) -> None:
    lb, listener, _ = stack
    settle()
    generation = lb_row(lb["id"]).desired_generation

    policy = make(client, listener, name="deny", tags=["a"])

    assert policy["action"] == "REJECT" and policy["position"] == 1
    assert policy["listener_id"] == listener["id"] and policy["rules"] == []
    assert (policy["provisioning_status"], policy["operating_status"]) == (
        "PENDING_CREATE",
        "OFFLINE",
    )
    for name in ("redirect_pool_id", "redirect_url", "redirect_prefix", "redirect_http_code"):
        assert policy[name] is None
    assert policy["tags"] == ["a"] and policy["description"] == "" and policy["admin_state_up"]
    assert lb_row(lb["id"]).desired_generation == generation + 1
    shown = client.get(f"/v2/lbaas/listeners/{listener['id']}").json()["listener"]
    assert shown["l7policies"] == [{"id": policy["id"]}]
    assert shown["provisioning_status"] == "PENDING_UPDATE"
    assert client.get(f"{URL}/{policy['id']}").json()["l7policy"] == policy


def test_redirects_default_to_302_and_keep_only_what_their_action_uses(
    stack: Stack, client: TestClient
) -> None:
    _, listener, pool = stack
    url = make(client, listener, action="REDIRECT_TO_URL", redirect_url="https://a.example/x")
    assert (url["redirect_url"], url["redirect_http_code"]) == ("https://a.example/x", 302)
    prefix = make(
        client,
        listener,
        action="REDIRECT_PREFIX",
        redirect_prefix="https://b.example",
        redirect_http_code=308,
    )
    assert (prefix["redirect_prefix"], prefix["redirect_http_code"]) == ("https://b.example", 308)
    to_pool = make(
        client,
        listener,
        action="REDIRECT_TO_POOL",
        redirect_pool_id=pool["id"],
        redirect_http_code=301,
    )
    assert (to_pool["redirect_pool_id"], to_pool["redirect_http_code"]) == (pool["id"], None)
    reject = make(client, listener, redirect_url="https://c.example", redirect_http_code=301)
    assert (reject["redirect_url"], reject["redirect_http_code"]) == (None, None)
    shown = client.get(f"/v2/lbaas/pools/{pool['id']}").json()["pool"]
    assert shown["listeners"] == [{"id": listener["id"]}]


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"action": "REDIRECT_TO_URL"}, "redirect_url must not be None"),
        ({"action": "REDIRECT_PREFIX"}, "redirect_prefix must not be None"),
        ({"action": "REDIRECT_TO_POOL"}, "redirect_pool_id or redirect_pool must not be None"),
        ({"action": "DROP"}, "action"),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "ftp://a.example"}, "valid URL"),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "/relative"}, "valid URL"),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "http://a/\nb"}, "valid URL"),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "http://a/%zz"}, "valid URL"),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "http://a/b c"}, "valid URL"),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "http://a/" + "x" * 250}, "at most 255"),
        (
            {"action": "REDIRECT_TO_URL", "redirect_url": "http://a", "redirect_http_code": 200},
            "301, 302, 303, 307, 308",
        ),
        ({"position": 0}, "greater than or equal to 1"),
        ({"position": 2**31}, "less than or equal to 2147483647"),
        ({"position": True}, "position"),
        ({"redirect_pool": {"name": "x"}}, "redirect_pool"),
        ({"unknown": 1}, "Unknown attribute: unknown"),
        ({"name": "a\nb"}, "control characters"),
    ],
)
def test_bad_policies_are_400(stack: Stack, client: TestClient, fields: Json, text: str) -> None:
    response = post(client, stack[1], **fields)
    assert response.status_code == 400, response.text
    assert text in response.json()["faultstring"]
    assert client.get(URL).json()["l7policies"] == []


def test_position_inserts_and_shifts_and_beyond_the_end_appends(
    stack: Stack, client: TestClient
) -> None:
    listener = stack[1]
    make(client, listener, name="a")
    make(client, listener, name="b", position=99)
    make(client, listener, name="c", position=1)
    d = make(client, listener, name="d", position=2)
    assert d["position"] == 2
    assert positions(client, listener) == [("c", 1), ("d", 2), ("a", 3), ("b", 4)]

    moved = client.put(f"{URL}/{d['id']}", json={"l7policy": {"position": 4}}).json()
    assert moved["l7policy"]["position"] == 4
    assert positions(client, listener) == [("c", 1), ("a", 2), ("b", 3), ("d", 4)]
    client.put(f"{URL}/{d['id']}", json={"l7policy": {"position": 1000}})
    assert positions(client, listener)[-1] == ("d", 4)

    first = client.get(URL, params={"name": "c"}).json()["l7policies"][0]
    assert client.delete(f"{URL}/{first['id']}").status_code == 204
    remaining = [item for item in positions(client, listener) if item[0] != "c"]
    assert remaining == [("a", 1), ("b", 2), ("d", 3)]
    assert client.get(f"{URL}/{first['id']}").json()["l7policy"]["provisioning_status"] == (
        "PENDING_DELETE"
    )
    assert client.delete(f"{URL}/{first['id']}").status_code == 409


def test_update_switches_action_by_what_it_sends(
    stack: Stack, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _, listener, pool = stack
    policy = make(client, listener)
    with sessions.begin() as session:
        session.get_one(models.L7Policy, policy["id"]).provisioning_status = "ACTIVE"

    def put(**fields: Any) -> Any:
        return client.put(f"{URL}/{policy['id']}", json={"l7policy": fields})

    to_url = put(redirect_url="http://a.example/")
    assert to_url.status_code == 200, to_url.text
    body = to_url.json()["l7policy"]
    assert (body["action"], body["redirect_http_code"]) == ("REDIRECT_TO_URL", 302)
    body = put(redirect_pool_id=pool["id"]).json()["l7policy"]
    assert body["action"] == "REDIRECT_TO_POOL" and body["redirect_url"] is None
    assert body["redirect_http_code"] is None and body["provisioning_status"] == "PENDING_UPDATE"
    both = put(redirect_pool_id=pool["id"], redirect_url="http://a.example/")
    assert both.status_code == 400
    assert "at the same time" in both.json()["faultstring"]
    assert put(action="REDIRECT_PREFIX").status_code == 400
    body = put(action="REDIRECT_PREFIX", redirect_prefix="http://p.example").json()["l7policy"]
    assert body["redirect_pool_id"] is None and body["redirect_http_code"] == 302
    body = put(redirect_http_code=307, name="n").json()["l7policy"]
    assert (body["redirect_http_code"], body["name"]) == (307, "n")
    body = put(action="REJECT").json()["l7policy"]
    assert (body["redirect_prefix"], body["redirect_http_code"]) == (None, None)
    assert put(admin_state_up=None).status_code == 400


def test_pools_and_listeners_of_other_load_balancers_or_projects(
    stack: Stack,
    make_lb: Factory,
    make_listener: Factory,
    make_pool: Factory,
    make_client: MakeClient,
    client: TestClient,
) -> None:
    _, listener, _ = stack
    elsewhere = make_pool(loadbalancer_id=make_lb()["id"])
    missing = post(client, listener, action="REDIRECT_TO_POOL", redirect_pool_id=elsewhere["id"])
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == f"Pool {elsewhere['id']} not found."

    other = make_client(project=OTHER)
    their_lb = make_lb(via=other)
    their_listener = make_listener(their_lb["id"], via=other)
    their_pool = make_pool(via=other, loadbalancer_id=their_lb["id"])
    assert post(client, their_listener).status_code == 404
    theirs = post(client, listener, action="REDIRECT_TO_POOL", redirect_pool_id=their_pool["id"])
    assert theirs.status_code == 404
    policy = make(other, their_listener)
    assert client.get(f"{URL}/{policy['id']}").status_code == 404
    assert client.put(f"{URL}/{policy['id']}", json={"l7policy": {}}).status_code == 404
    assert client.delete(f"{URL}/{policy['id']}").status_code == 404
    assert client.get(URL).json()["l7policies"] == []
    assert post(client, listener, project_id=OTHER).status_code == 403
    mine = make(client, listener)
    moved = client.put(
        f"{URL}/{mine['id']}", json={"l7policy": {"redirect_pool_id": their_pool["id"]}}
    )
    assert moved.status_code == 404


def test_only_http_listeners_and_pools(
    stack: Stack, make_listener: Factory, make_pool: Factory, client: TestClient
) -> None:
    lb, listener, _ = stack
    tcp = make_listener(lb["id"], protocol="TCP", protocol_port=81)
    refused = post(client, tcp)
    assert refused.status_code == 400
    assert "TCP protocol listeners do not support L7 policies" in refused.json()["faultstring"]
    tcp_pool = make_pool(loadbalancer_id=lb["id"], protocol="TCP")
    wrong = post(client, listener, action="REDIRECT_TO_POOL", redirect_pool_id=tcp_pool["id"])
    assert wrong.status_code == 400


def test_pool_in_use_cannot_be_deleted_until_the_policy_goes(
    stack: Stack, client: TestClient
) -> None:
    _, listener, pool = stack
    policy = make(client, listener, action="REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    refused = client.delete(f"/v2/lbaas/pools/{pool['id']}")
    assert refused.status_code == 409
    assert refused.json()["faultstring"] == (
        f"Pool {pool['id']} is in use by L7 policy {policy['id']}"
    )
    assert client.delete(f"{URL}/{policy['id']}").status_code == 204
    assert client.delete(f"/v2/lbaas/pools/{pool['id']}").status_code == 204
    again = post(client, listener, action="REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    assert again.status_code == 404  # a pool being deleted is not a target


def test_create_with_rules_and_list_filters(stack: Stack, client: TestClient) -> None:
    listener = stack[1]
    rules = [
        {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"},
        {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Env", "value": "prod"},
    ]
    policy = make(client, listener, rules=rules, name="api")
    assert len(policy["rules"]) == 2
    listed = client.get(f"{URL}/{policy['id']}/rules").json()
    assert sorted(r["type"] for r in listed["rules"]) == ["HEADER", "PATH"]
    assert listed["rules_links"] == []
    make(client, listener, name="other")
    by_listener = client.get(URL, params={"listener_id": listener["id"], "action": "REJECT"})
    assert len(by_listener.json()["l7policies"]) == 2
    assert client.get(URL, params={"name": "api"}).json()["l7policies"][0]["id"] == policy["id"]
    fields = client.get(URL, params={"fields": "id,position", "sort": "position:desc"}).json()
    assert [set(p) for p in fields["l7policies"]] == [{"id", "position"}] * 2
    assert [p["position"] for p in fields["l7policies"]] == [2, 1]
    assert client.get(URL, params={"limit": 1}).json()["l7policies_links"][0]["rel"] == "next"
    too_many = post(client, listener, rules=[rules[0]] * 51)
    assert too_many.status_code == 400


def test_fully_populated_create_with_policies_and_redirect_pools(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    pool_defs: list[Json] = [
        {"name": "web", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
        {"name": "api", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
    ]
    body: Json = {
        "listeners": [
            {
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool": {"name": "web"},
                "l7policies": [
                    {
                        "action": "REDIRECT_TO_POOL",
                        "redirect_pool": {"name": "api"},
                        "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}],
                    },
                    {
                        "action": "REDIRECT_TO_POOL",
                        "position": 1,
                        "redirect_pool": {
                            "name": "static",
                            "protocol": "HTTP",
                            "lb_algorithm": "ROUND_ROBIN",
                        },
                        "rules": [
                            {"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "png"}
                        ],
                    },
                    {"action": "REDIRECT_TO_URL", "redirect_url": "https://x.example/"},
                ],
            }
        ],
        "pools": pool_defs,
    }
    response = client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    lb = created(response, "loadbalancer")
    pools = {pool["name"]: pool["id"] for pool in lb["pools"]}
    assert set(pools) == {"web", "api", "static"}
    policies = lb["listeners"][0]["l7policies"]
    assert [(p["position"], p["redirect_pool_id"]) for p in policies] == [
        (1, pools["static"]),
        (2, pools["api"]),
        (3, None),
    ]
    assert policies[0]["rules"][0]["value"] == "png" and policies[2]["redirect_http_code"] == 302

    undefined = {**body, "pools": pool_defs[:1]}
    refused = client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": undefined})
    assert refused.status_code == 400
    assert "Pool api is referenced but not defined" in refused.json()["faultstring"]
    with sessions() as session:
        assert len(session.scalars(select(models.LoadBalancer)).all()) == 1  # nothing half-made


def test_load_balancer_cascade_and_listener_delete_remove_policies(
    stack: Stack, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    lb, listener, pool = stack
    make(
        client,
        listener,
        action="REDIRECT_TO_POOL",
        redirect_pool_id=pool["id"],
        rules=[{"type": "PATH", "compare_type": "CONTAINS", "value": "x"}],
    )
    with sessions.begin() as session:
        snapshot = load_snapshot(session, lb["id"])
        assert snapshot is not None
        record_snapshot_applied(session, lb["id"], snapshot, utcnow())
    policy = client.get(URL).json()["l7policies"][0]
    assert (policy["provisioning_status"], policy["operating_status"]) == ("ACTIVE", "ONLINE")
    rule = client.get(f"{URL}/{policy['id']}/rules").json()["rules"][0]
    assert (rule["provisioning_status"], rule["operating_status"]) == ("ACTIVE", "ONLINE")

    assert client.delete(f"/v2/lbaas/listeners/{listener['id']}").status_code == 204
    with sessions.begin() as session:
        snapshot = load_snapshot(session, lb["id"])
        assert snapshot is not None
        assert snapshot.doomed.l7policies == (policy["id"],)
        assert snapshot.doomed.l7rules == (rule["id"],)
        assert snapshot.spec.listeners == ()
        record_snapshot_applied(session, lb["id"], snapshot, utcnow())
    assert client.get(f"{URL}/{policy['id']}").status_code == 404

    listener = client.post(
        "/v2/lbaas/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 81}},
    ).json()["listener"]
    make(client, listener, rules=[{"type": "PATH", "compare_type": "CONTAINS", "value": "y"}])
    assert client.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true").status_code == 204
    with sessions.begin() as session:
        record_deleted(session, lb["id"], utcnow())
    with sessions() as session:
        assert session.scalars(select(models.L7Policy)).all() == []
        assert session.scalars(select(models.L7Rule)).all() == []

"""Octavia's tag filters (v2.5) on every list of objects with tags: `tags` (all of them),
`tags-any` (at least one), `not-tags` (leaves out objects with all of them), `not-tags-any`
(leaves out objects with any of them); comma-separated and repeatable, combined with each
other, with equality filters, sorting and pagination."""

from collections.abc import Callable
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import OTHER, Factory, Json, MakeClient, created

# The objects of every list, by a short name: their tags
TAGGED = {
    "rb": ["red", "blue"],
    "r": ["red"],
    "bg": ["blue", "green"],
    "none": [],
    "rbg": ["red", "blue", "green"],
}
EVERY = set(TAGGED)
EXPECTED = [
    ("tags=red", {"rb", "r", "rbg"}),
    ("tags=red,blue", {"rb", "rbg"}),
    ("tags=red&tags=blue", {"rb", "rbg"}),
    ("tags=blue,red,blue", {"rb", "rbg"}),
    ("tags=purple", set()),
    ("tags=RED", set()),  # tags are compared exactly
    ("tags-any=red,green", {"rb", "r", "bg", "rbg"}),
    ("tags-any=red&tags-any=green", {"rb", "r", "bg", "rbg"}),
    ("tags-any=purple", set()),
    ("not-tags=red,blue", {"r", "bg", "none"}),  # lacking at least one of them
    ("not-tags=red&not-tags=blue", {"r", "bg", "none"}),
    ("not-tags=purple", EVERY),
    ("not-tags-any=red,green", {"none"}),  # having none of them
    ("not-tags-any=purple", EVERY),
    ("tags=blue&not-tags=green", {"rb"}),
    ("tags-any=red,green&not-tags-any=blue", {"r"}),
    ("tags=red&tags-any=green,purple", {"rbg"}),
    ("tags-any=red,blue&not-tags=red,blue", {"r", "bg"}),
]
# Creates one object per entry of TAGGED and says where they are listed: (path, key, ids).
Setup = Callable[[], tuple[str, str, dict[str, str]]]


@pytest.fixture
def setups(
    client: TestClient,
    make_lb: Factory,
    make_listener: Factory,
    make_pool: Factory,
    make_member: Factory,
    make_hm: Factory,
) -> dict[str, Setup]:
    def each(make: Callable[[int, list[str]], Json]) -> dict[str, str]:
        return {make(i, tags)["id"]: name for i, (name, tags) in enumerate(TAGGED.items())}

    def loadbalancers() -> tuple[str, str, dict[str, str]]:
        ids = each(lambda i, tags: make_lb(name=f"lb{i}", tags=tags))
        return "/v2/lbaas/loadbalancers", "loadbalancers", ids

    def listeners() -> tuple[str, str, dict[str, str]]:
        lb = make_lb()
        ids = each(lambda i, tags: make_listener(lb["id"], protocol_port=80 + i, tags=tags))
        return "/v2/lbaas/listeners", "listeners", ids

    def pools() -> tuple[str, str, dict[str, str]]:
        lb = make_lb()
        ids = each(lambda i, tags: make_pool(loadbalancer_id=lb["id"], tags=tags))
        return "/v2/lbaas/pools", "pools", ids

    def members() -> tuple[str, str, dict[str, str]]:
        pool = make_pool(loadbalancer_id=make_lb()["id"])
        ids = each(lambda i, tags: make_member(pool["id"], protocol_port=8000 + i, tags=tags))
        return f"/v2/lbaas/pools/{pool['id']}/members", "members", ids

    def healthmonitors() -> tuple[str, str, dict[str, str]]:
        lb = make_lb()
        ids = each(lambda i, tags: make_hm(make_pool(loadbalancer_id=lb["id"])["id"], tags=tags))
        return "/v2/lbaas/healthmonitors", "healthmonitors", ids

    def policy(listener_id: str, tags: list[str]) -> Json:
        body = {"listener_id": listener_id, "action": "REJECT", "tags": tags}
        return created(client.post("/v2/lbaas/l7policies", json={"l7policy": body}), "l7policy")

    def l7policies() -> tuple[str, str, dict[str, str]]:
        listener = make_listener(make_lb()["id"])
        ids = each(lambda i, tags: policy(listener["id"], tags))
        return "/v2/lbaas/l7policies", "l7policies", ids

    def l7rules() -> tuple[str, str, dict[str, str]]:
        path = f"/v2/lbaas/l7policies/{policy(make_listener(make_lb()['id'])['id'], [])['id']}"

        def rule(i: int, tags: list[str]) -> Json:
            body = {"type": "PATH", "compare_type": "STARTS_WITH", "value": f"/{i}", "tags": tags}
            return created(client.post(f"{path}/rules", json={"rule": body}), "rule")

        return f"{path}/rules", "rules", each(rule)

    return {
        "loadbalancers": loadbalancers,
        "listeners": listeners,
        "pools": pools,
        "members": members,
        "healthmonitors": healthmonitors,
        "l7policies": l7policies,
        "l7rules": l7rules,
    }


RESOURCES = ("loadbalancers", "listeners", "pools", "members", "healthmonitors", "l7policies",
             "l7rules")  # fmt: skip


@pytest.mark.parametrize("resource", RESOURCES)
def test_each_filter_on_every_list_with_tags(
    resource: str, setups: dict[str, Setup], client: TestClient
) -> None:
    path, key, ids = setups[resource]()

    def found(query: str) -> set[str]:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (query, response.text)
        return {ids[item["id"]] for item in response.json()[key] if item["id"] in ids}

    assert found("") == EVERY
    for query, expected in EXPECTED:
        assert found(query) == expected, query
    # with the v2.0 prefix the openstack CLI uses, and with field selection
    shown = client.get(f"{path.replace('/v2/', '/v2.0/')}?tags=green&fields=id").json()[key]
    assert {ids[item["id"]] for item in shown} == {"bg", "rbg"}


def test_pages_of_a_filtered_list(setups: dict[str, Setup], client: TestClient) -> None:
    path, key, ids = setups["loadbalancers"]()
    by_name = {name: ident for ident, name in ids.items()}

    first = client.get(f"{path}?tags-any=red,green&limit=2").json()
    assert [ids[lb["id"]] for lb in first[key]] == ["rb", "r"]  # creation order
    (following,) = [link for link in first[f"{key}_links"] if link["rel"] == "next"]
    params = parse_qs(urlsplit(following["href"]).query)
    assert params["tags-any"] == ["red,green"] and params["marker"] == [by_name["r"]]

    second = client.get(following["href"]).json()
    assert [ids[lb["id"]] for lb in second[key]] == ["bg", "rbg"]
    (back,) = [link for link in second[f"{key}_links"] if link["rel"] == "previous"]
    assert [ids[lb["id"]] for lb in client.get(back["href"]).json()[key]] == ["rb", "r"]

    # a marker the filter leaves out still marks a place in the order
    after_none = client.get(f"{path}?tags=red&marker={by_name['none']}").json()[key]
    assert [ids[lb["id"]] for lb in after_none] == ["rbg"]
    by_tag_count = client.get(f"{path}?not-tags-any=green&sort=name:desc&limit=2").json()[key]
    assert [ids[lb["id"]] for lb in by_tag_count] == ["none", "r"]
    with_equality = client.get(f"{path}?tags=red&name=lb4").json()[key]
    assert [ids[lb["id"]] for lb in with_equality] == ["rbg"]


def test_another_project_s_objects_never_match(
    make_lb: Factory, make_client: MakeClient, client: TestClient
) -> None:
    mine = make_lb(tags=["shared"])
    other = make_client(project=OTHER)
    make_lb(via=other, tags=["shared"])
    listed = client.get("/v2/lbaas/loadbalancers?tags=shared").json()["loadbalancers"]
    assert [lb["id"] for lb in listed] == [mine["id"]]
    assert client.get("/v2/lbaas/loadbalancers?not-tags=shared").json()["loadbalancers"] == []
    admin = make_client(project=None)
    assert len(admin.get("/v2/lbaas/loadbalancers?tags=shared").json()["loadbalancers"]) == 2


ODD_TAGS = ["' OR '1'='1", '"; DROP TABLE loadbalancers; --', "%", "_", "a*", "é", "[1]", " "]


def test_odd_but_valid_tags_match_exactly(make_lb: Factory, client: TestClient) -> None:
    made = {tag: make_lb(tags=[tag])["id"] for tag in ODD_TAGS}
    plain = make_lb(tags=["plain"])["id"]
    for tag, ident in made.items():
        response = client.get(f"/v2/lbaas/loadbalancers?tags={quote(tag, safe='')}")
        assert response.status_code == 200, tag
        assert [lb["id"] for lb in response.json()["loadbalancers"]] == [ident], tag
    everything = ",".join(quote(tag, safe="") for tag in ODD_TAGS)
    rest = client.get(f"/v2/lbaas/loadbalancers?not-tags-any={everything}").json()
    assert [lb["id"] for lb in rest["loadbalancers"]] == [plain]


@pytest.mark.parametrize(
    "query",
    [
        "tags=%0A",
        "tags=a%0Ab",
        "tags-any=ok,%00",
        "not-tags=%7F",
        "not-tags-any=" + "x" * 256,
        "tags=" + ",".join(f"t{i}" for i in range(101)),
        "tags-any=a&" + "&".join(f"tags-any=t{i}" for i in range(100)),
    ],
)
def test_values_no_tag_could_have_are_refused(
    query: str, make_lb: Factory, client: TestClient
) -> None:
    make_lb(tags=["a"])
    response = client.get(f"/v2/lbaas/loadbalancers?{query}")
    assert response.status_code == 400, response.text
    fault = response.json()
    assert set(fault) == {"faultcode", "faultstring", "debuginfo"}
    assert len(fault["faultstring"]) < 200 and "\n" not in fault["faultstring"]


def test_a_hundred_tags_are_accepted(make_lb: Factory, client: TestClient) -> None:
    tags = [f"t{i}" for i in range(100)]
    lb = make_lb(tags=tags)
    listed = client.get(f"/v2/lbaas/loadbalancers?tags={','.join(tags)}").json()["loadbalancers"]
    assert [item["id"] for item in listed] == [lb["id"]]


def test_lists_without_tags_and_other_names_refuse_them(make_client: MakeClient) -> None:
    admin = make_client(project=None)
    for path in ("/v2/lbaas/flavors", "/v2/lbaas/availabilityzones", "/v2/lbaas/quotas"):
        assert admin.get(f"{path}?tags=a").status_code == 400, path
        assert admin.get(f"{path}?not-tags-any=a").status_code == 400, path
    for name in ("tag", "tags_any", "Tags", "not_tags", "any-tags"):
        response = admin.get(f"/v2/lbaas/loadbalancers?{name}=a")
        assert response.status_code == 400, name
        assert response.json()["faultstring"] == (
            "One or more arguments are either duplicate or invalid."
        )

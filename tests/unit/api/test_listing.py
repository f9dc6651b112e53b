"""Pagination, sorting, filtering and field selection, as Octavia does them."""

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import Factory, Json

PATH = "/v2/lbaas/loadbalancers"


@pytest.fixture
def five(make_lb: Factory) -> list[Json]:
    return [make_lb(name=name) for name in ("c", "a", "e", "b", "d")]


def names(client: TestClient, query: str) -> list[str]:
    response = client.get(f"{PATH}?{query}")
    assert response.status_code == 200, response.text
    return [lb["name"] for lb in response.json()["loadbalancers"]]


def link(body: Json, rel: str) -> dict[str, list[str]] | None:
    for item in body["loadbalancers_links"]:
        if item["rel"] == rel:
            assert item["href"].startswith(f"http://testserver{PATH}?")
            return parse_qs(urlsplit(item["href"]).query)
    return None


def test_default_order_is_creation(client: TestClient, five: list[Json]) -> None:
    body = client.get(PATH).json()

    assert [lb["name"] for lb in body["loadbalancers"]] == ["c", "a", "e", "b", "d"]
    assert body["loadbalancers_links"] == []


def test_pages_forward_and_back_with_links(client: TestClient, five: list[Json]) -> None:
    first = client.get(f"{PATH}?limit=2&sort=name").json()
    assert [lb["name"] for lb in first["loadbalancers"]] == ["a", "b"]
    following = link(first, "next")
    assert following is not None and link(first, "previous") is None
    assert following["marker"] == [first["loadbalancers"][1]["id"]]
    assert following["sort"] == ["name"] and following["limit"] == ["2"]

    second = client.get(f"{PATH}?limit=2&sort=name&marker={following['marker'][0]}").json()
    assert [lb["name"] for lb in second["loadbalancers"]] == ["c", "d"]
    back = link(second, "previous")
    assert back is not None and back["page_reverse"] == ["True"]

    query = f"limit=2&sort=name&marker={back['marker'][0]}&page_reverse=True"
    assert names(client, query) == ["a", "b"]

    last_marker = second["loadbalancers"][1]["id"]
    last = client.get(f"{PATH}?limit=2&sort=name&marker={last_marker}").json()
    assert [lb["name"] for lb in last["loadbalancers"]] == ["e"]
    assert link(last, "next") is None and link(last, "previous") is not None


def test_sorting(client: TestClient, five: list[Json]) -> None:
    assert names(client, "sort=name:desc") == ["e", "d", "c", "b", "a"]
    assert names(client, "sort_key=name&sort_dir=desc") == ["e", "d", "c", "b", "a"]
    assert names(client, "sort=provisioning_status,name:asc") == ["a", "b", "c", "d", "e"]
    assert names(client, "sort=created_at:desc") == ["d", "b", "e", "a", "c"]
    assert names(client, "sort=updated_at:desc") == ["d", "b", "e", "a", "c"]  # null: created


@pytest.mark.parametrize(
    "query",
    [
        "sort=color",
        "sort=name:sideways",
        "sort_key=desired_generation",
        "sort_key=name&sort_dir=asc&sort_dir=desc",
        "limit=many",
        "marker=6a2d7b2e-0000-4000-8000-000000000000",
        "color=red",
        "admin_state_up=maybe",
        "page_reverse=sideways",
    ],
)
def test_bad_list_parameters(client: TestClient, five: list[Json], query: str) -> None:
    response = client.get(f"{PATH}?{query}")

    assert response.status_code == 400
    assert response.json()["faultcode"] == "Client"


def test_filters(client: TestClient, five: list[Json], make_lb: Factory) -> None:
    make_lb(name="off", admin_state_up=False)

    assert names(client, "name=b") == ["b"]
    assert names(client, "name=b&name=d") == ["b", "d"]
    assert names(client, "admin_state_up=false") == ["off"]
    assert names(client, f"vip_address={five[0]['vip_address']}") == ["c"]
    assert names(client, "name=b&provisioning_status=ACTIVE") == []


def test_filter_on_integers(client: TestClient, make_lb: Factory, make_listener: Factory) -> None:
    lb = make_lb()
    make_listener(lb["id"], protocol_port=80)
    make_listener(lb["id"], protocol_port=81)

    response = client.get("/v2/lbaas/listeners?protocol_port=81")

    assert [li["protocol_port"] for li in response.json()["listeners"]] == [81]
    assert client.get("/v2/lbaas/listeners?protocol_port=x").status_code == 400
    by_lb = client.get(f"/v2/lbaas/listeners?loadbalancer_id={lb['id']}").json()["listeners"]
    assert len(by_lb) == 2


def test_fields_selects_attributes(client: TestClient, five: list[Json]) -> None:
    listed = client.get(f"{PATH}?fields=id&fields=name").json()["loadbalancers"]
    shown = client.get(f"{PATH}/{five[0]['id']}?fields=name,vip_address").json()

    assert all(set(lb) == {"id", "name"} for lb in listed)
    assert shown == {"loadbalancer": {"name": "c", "vip_address": five[0]["vip_address"]}}


def test_limit_is_capped(make_client: Callable[..., TestClient], five: list[Json]) -> None:
    client = make_client(pagination_max_limit=3)

    body = client.get(PATH).json()

    assert len(body["loadbalancers"]) == 3
    assert link(body, "next") is not None
    assert len(client.get(f"{PATH}?limit=0").json()["loadbalancers"]) == 3

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import Factory, Json


@pytest.fixture
def pool(make_lb: Factory, make_pool: Factory) -> Json:
    return make_pool(loadbalancer_id=make_lb()["id"])


def post(client: TestClient, pool: Json, fields: Json) -> Any:
    body = {"pool_id": pool["id"], "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}
    return client.post("/v2/lbaas/healthmonitors", json={"healthmonitor": {**body, **fields}})


def test_http_monitor_gets_octavia_defaults(pool: Json, make_hm: Factory) -> None:
    hm = make_hm(pool["id"])

    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == ("GET", "/", "200")
    assert (hm["max_retries_down"], hm["http_version"], hm["domain_name"]) == (3, None, None)
    assert hm["pools"] == [{"id": pool["id"]}]
    assert (hm["provisioning_status"], hm["operating_status"]) == ("PENDING_CREATE", "OFFLINE")


@pytest.mark.parametrize("hm_type", ["TCP", "TLS-HELLO"])
def test_non_http_monitors_have_no_http_fields(
    pool: Json, make_hm: Factory, client: TestClient, hm_type: str
) -> None:
    hm = make_hm(pool["id"], type=hm_type)

    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == (None, None, None)
    path = f"/v2/lbaas/healthmonitors/{hm['id']}"
    assert client.put(path, json={"healthmonitor": {"url_path": "/x"}}).status_code == 400


@pytest.mark.parametrize("hm_type", ["PING", "UDP-CONNECT", "SCTP"])
def test_unsupported_types(pool: Json, client: TestClient, hm_type: str) -> None:
    response = post(client, pool, {"type": hm_type})

    assert response.status_code == 400
    assert "does not support a requested option" in response.json()["faultstring"]


@pytest.mark.parametrize(
    "url_path", ["/", "/healthz", "/a/b;c=d?x=1&y=%20", "/~user/(x)", "/@:!$'*+,"]
)
def test_url_paths_accepted(pool: Json, client: TestClient, url_path: str) -> None:
    assert post(client, pool, {"url_path": url_path}).status_code == 201


@pytest.mark.parametrize(
    "url_path",
    [
        "",
        "health",
        "/x\n",
        "/a b",
        "/a#b",
        "/a\nb",
        "/a\rb",
        "/a\x00",
        "/%zz",
        '/"x"',
        "/a\\b",
        "/x{y}",
        "http://host/",
        "/" + "a" * 2048,
    ],
)
def test_url_paths_refused(pool: Json, client: TestClient, url_path: str) -> None:
    response = post(client, pool, {"url_path": url_path})
    assert response.status_code == 400, url_path


@pytest.mark.parametrize(
    ("codes", "stored"),
    [("200", "200"), ("200,202", "200,202"), ("200, 202", "200,202"), ("200-204", "200-204")],
)
def test_expected_codes_accepted(pool: Json, client: TestClient, codes: str, stored: str) -> None:
    response = post(client, pool, {"expected_codes": codes})
    assert response.json()["healthmonitor"]["expected_codes"] == stored


@pytest.mark.parametrize("codes", ["2000", "20", "204-200", "200\n", "200;201", "2xx", "", "200-"])
def test_expected_codes_refused(pool: Json, client: TestClient, codes: str) -> None:
    assert post(client, pool, {"expected_codes": codes}).status_code == 400


@pytest.mark.parametrize(
    "fields",
    [
        {"max_retries": 0},
        {"max_retries": 11},
        {"max_retries_down": 11},
        {"delay": 0},
        {"delay": -5},
        {"timeout": 10**12},
        {"http_method": "BREW"},
        {"http_version": 2.0},
        {"domain_name": "example.com"},
        {"domain_name": "bad domain", "http_version": 1.1},
        {"domain_name": "a\nb", "http_version": 1.1},
        {"domain_name": "example.com\n", "http_version": 1.1},
        {"domain_name": "-x.example", "http_version": 1.1},
        {"pool_id": "not-a-uuid"},
        {"type": None},
    ],
)
def test_invalid_monitors_are_refused(pool: Json, client: TestClient, fields: Json) -> None:
    response = post(client, pool, fields)
    assert response.status_code == 400, response.text


def test_host_header_check(pool: Json, make_hm: Factory) -> None:
    hm = make_hm(pool["id"], http_version=1.1, domain_name="www.example.com", http_method="HEAD")

    assert (hm["http_version"], hm["domain_name"], hm["http_method"]) == (
        1.1,
        "www.example.com",
        "HEAD",
    )


def test_one_monitor_per_pool_until_deleted(
    pool: Json, make_hm: Factory, client: TestClient
) -> None:
    first = make_hm(pool["id"])

    assert post(client, pool, {}).status_code == 409
    assert client.delete(f"/v2/lbaas/healthmonitors/{first['id']}").status_code == 204
    assert post(client, pool, {"type": "TCP"}).status_code == 201


def test_update_and_reset(
    pool: Json, make_hm: Factory, client: TestClient, settle: Callable[[], None]
) -> None:
    hm = make_hm(pool["id"], url_path="/x", expected_codes="201", max_retries_down=5)
    settle()
    path = f"/v2/lbaas/healthmonitors/{hm['id']}"

    response = client.put(
        path,
        json={
            "healthmonitor": {"url_path": None, "expected_codes": "202", "max_retries_down": None}
        },
    )
    body = response.json()["healthmonitor"]

    assert response.status_code == 200
    assert (body["url_path"], body["expected_codes"], body["max_retries_down"]) == ("/", "202", 3)
    assert body["provisioning_status"] == "PENDING_UPDATE"
    assert client.put(path, json={"healthmonitor": {"delay": None}}).status_code == 400
    assert client.put(path, json={"healthmonitor": {"type": "TCP"}}).status_code == 400
    bad_host = {"domain_name": "example.com"}  # without http_version 1.1
    assert client.put(path, json={"healthmonitor": bad_host}).status_code == 400

"""/openapi.json: a valid OpenAPI 3.1 document that describes every endpoint's body, success
response and faults (tests/e2e/test_openapi_schemathesis.py checks real answers against it)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.adapter.validators import validate_v3

from steelyard.api.app import create_app
from steelyard.api.openapi import ERRORS, describe
from steelyard.api.settings import ApiSettings

Json = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> Json:
    app = create_app(ApiSettings(auth="keys"), None, lambda _: None)  # type: ignore[arg-type]
    return describe(app)


def _operations(document: Json) -> list[tuple[str, str, Json]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_the_document_is_valid_openapi(document: Json) -> None:
    validate_v3(document)
    assert document["openapi"].startswith("3.1")
    assert not any(path.startswith("/v2.0") for path in document["paths"])  # an alias


def test_every_operation_documents_its_success_and_its_faults(document: Json) -> None:
    operations = _operations(document)
    assert len(operations) >= 90
    for method, path, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (method, path)  # FastAPI's 422 is a 400 here
        (success,) = [code for code in responses if code.startswith("2")]
        content = responses[success].get("content")
        if success == "204":
            assert content is None, (method, path)
        elif method == "GET":
            assert content, (method, path)
        if path in ("/", "/v2"):
            continue  # version discovery: public, no faults
        for code in ERRORS:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Fault"}, (method, path, code)
        assert {"ApiKey": []} in operation["security"]


@pytest.mark.parametrize(
    ("method", "path", "key", "model"),
    [
        ("POST", "/v2/lbaas/loadbalancers", "loadbalancer", "LoadBalancerCreate"),
        ("PUT", "/v2/lbaas/listeners/{listener_id}", "listener", "ListenerUpdate"),
        ("POST", "/v2/lbaas/pools/{pool_id}/members", "member", "MemberCreate"),
        ("PUT", "/v2/lbaas/pools/{pool_id}/members", "members", None),
        ("POST", "/v2/lbaas/l7policies/{l7policy_id}/rules", "rule", "RuleCreate"),
        ("PUT", "/v2/lbaas/quotas/{project_id}", "quota", "QuotaUpdate"),
    ],
)
def test_request_bodies_are_the_models_the_handlers_read(
    document: Json, method: str, path: str, key: str, model: str | None
) -> None:
    body = document["paths"][path][method.lower()]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    root = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert root["required"] == [key]
    assert root["additionalProperties"] is False  # unknown attributes are refused
    if model is not None:
        assert root["properties"][key]["$ref"].rsplit("/", 1)[1].startswith(model)


def test_lists_answer_with_octavia_links(document: Json) -> None:
    listed = document["paths"]["/v2/lbaas/flavorprofiles"]["get"]["responses"]["200"]
    schema = listed["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"flavorprofiles", "flavorprofile_links"}
    created = document["paths"]["/v2/lbaas/loadbalancers"]["post"]["responses"]["201"]
    one = created["content"]["application/json"]["schema"]["properties"]["loadbalancer"]
    assert len(one["anyOf"]) == 2  # the plain or the fully populated form


def test_served_with_a_request_id_and_no_token(make_client: Any) -> None:
    client: TestClient = make_client(auth="keys", project=None)
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["x-openstack-request-id"].startswith("req-")
    assert response.json()["paths"]["/v2/lbaas/loadbalancers"]["get"]["responses"]["200"]

"""The versions document: Octavia's minor versions up to the last one Steelyard has, and
each one's features really in the API (found in the OpenAPI document)."""

import json

import pytest
from fastapi.testclient import TestClient

from steelyard.api.app import create_app
from steelyard.api.openapi import describe
from steelyard.api.settings import ApiSettings
from steelyard.api.versions import OCTAVIA_VERSIONS, ApiVersion, claimed

# What each version added, as it shows in /openapi.json (paths, attributes, enum values).
FEATURES = {
    "v2.0": ["/v2/lbaas/loadbalancers/{lb_id}/status", "/v2/lbaas/l7policies", "/v2/lbaas/quotas"],
    "v2.1": ["/v2/lbaas/providers", '"timeout_client_data"', '"backup"'],
    "v2.2": ['"REDIRECT_PREFIX"'],
    "v2.3": ["/v2/octavia/amphorae/{amphora_id}/failover"],
    "v2.4": ["/v2/octavia/amphorae/{amphora_id}/stats"],
    "v2.5": ['"tags"'],  # the filters are query parameters: tests/unit/api/test_tag_filters.py
    "v2.6": ["/v2/lbaas/flavors", "/v2/lbaas/flavorprofiles", '"flavor_id"'],
    "v2.7": ["/v2/octavia/amphorae/{amphora_id}/config"],
    "v2.8": ['"client_authentication"', '"client_ca_tls_container_ref"'],
    "v2.9": ['"redirect_http_code"'],
    "v2.10": ['"domain_name"', '"http_version"'],
    "v2.11": ["/v2/lbaas/pools/{pool_id}/members"],
    "v2.12": ['"allowed_cidrs"'],
    "v2.13": ['"SOURCE_IP_PORT"'],
    "v2.14": ["/v2/lbaas/availabilityzones", "/v2/lbaas/availabilityzoneprofiles"],
    "v2.15": ['"tls_ciphers"'],
}


@pytest.fixture(scope="module")
def document_text() -> str:
    app = create_app(ApiSettings(auth="noauth"), None, lambda _: None)  # type: ignore[arg-type]
    return json.dumps(describe(app))


def test_root_lists_the_claimed_versions_the_last_current(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    listed = response.json()["versions"]
    assert [v["id"] for v in listed] == [v.id for v in claimed()]
    assert listed[0]["id"] == "v2.0"
    assert [v["status"] for v in listed] == ["SUPPORTED"] * (len(listed) - 1) + ["CURRENT"]
    for version in listed:
        assert version["links"] == [{"href": "http://testserver/v2", "rel": "self"}]
    assert client.get("/v2").json() == response.json()


def test_nothing_after_the_first_missing_feature_is_claimed() -> None:
    ids = [v.id for v in OCTAVIA_VERSIONS]
    first_missing = next(v for v in OCTAVIA_VERSIONS if not v.supported)
    assert [v.id for v in claimed()] == ids[: ids.index(first_missing.id)]


@pytest.mark.parametrize(
    "version", [v for v in OCTAVIA_VERSIONS if v.supported], ids=lambda v: v.id
)
def test_a_supported_version_s_features_are_in_the_api(
    version: ApiVersion, document_text: str
) -> None:
    for feature in FEATURES[version.id]:
        assert feature in document_text, (version, feature)

"""/v2/lbaas/l7policies/{id}/rules: Octavia's validation per rule type, PUT merging, limits,
hostile values (refused with 400, nothing written), other projects' policies (404)."""

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import OTHER, Factory, Json, MakeClient, created


@pytest.fixture
def policy(make_lb: Factory, make_listener: Factory, client: TestClient) -> Json:
    listener = make_listener(make_lb()["id"])
    body = {"listener_id": listener["id"], "action": "REJECT"}
    return created(client.post("/v2/lbaas/l7policies", json={"l7policy": body}), "l7policy")


def url(policy: Json) -> str:
    return f"/v2/lbaas/l7policies/{policy['id']}/rules"


def post(client: TestClient, policy: Json, **fields: Any) -> Any:
    body = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api", **fields}
    return client.post(url(policy), json={"rule": body})


def test_create_show_and_policy_lists_it(policy: Json, client: TestClient) -> None:
    rule = created(post(client, policy, invert=True, tags=["t"]), "rule")
    assert {k: rule[k] for k in ("type", "compare_type", "key", "value", "invert")} == {
        "type": "PATH",
        "compare_type": "STARTS_WITH",
        "key": None,
        "value": "/api",
        "invert": True,
    }
    assert "name" not in rule and "description" not in rule
    assert (rule["provisioning_status"], rule["operating_status"]) == ("PENDING_CREATE", "OFFLINE")
    assert client.get(f"{url(policy)}/{rule['id']}").json()["rule"] == rule
    shown = client.get(f"/v2/lbaas/l7policies/{policy['id']}").json()["l7policy"]
    assert shown["rules"] == [{"id": rule["id"]}]
    listed = client.get(url(policy), params={"invert": "true", "fields": "id"}).json()
    assert listed == {"rules": [{"id": rule["id"]}], "rules_links": []}


VALID = [
    ("HOST_NAME", "EQUAL_TO", None, "www.example.com"),
    ("HOST_NAME", "REGEX", None, r"^(a|b)\.example\.com$"),
    ("PATH", "ENDS_WITH", None, "/edit"),
    ("FILE_TYPE", "EQUAL_TO", None, "jpg"),
    ("FILE_TYPE", "REGEX", None, r"\.(png|gif)$"),
    ("HEADER", "CONTAINS", "X-Forwarded-For", "198.18."),
    ("HEADER", "EQUAL_TO", "X-Quoted", '"two words"'),
    ("COOKIE", "STARTS_WITH", "session", "abc"),
    ("COOKIE", "REGEX", "session", "^[0-9a-f]{32}$"),
]


@pytest.mark.parametrize(("kind", "compare", "key", "value"), VALID)
def test_octavias_valid_rules(
    policy: Json, client: TestClient, kind: str, compare: str, key: str | None, value: str
) -> None:
    response = post(client, policy, type=kind, compare_type=compare, key=key, value=value)
    assert response.status_code == 201, response.text
    assert response.json()["rule"]["value"] == value


INVALID = [
    ({"type": "FILE_TYPE", "compare_type": "STARTS_WITH"}, "invalid comparison type"),
    ({"type": "HEADER"}, "requires a key"),
    ({"type": "COOKIE", "key": ""}, "requires a key"),
    ({"type": "HEADER", "key": "X A"}, "Invalid characters in key"),
    ({"type": "HEADER", "key": "X-A,1"}, "Invalid characters in key"),
    ({"type": "HEADER", "key": "X#A"}, "Invalid characters in key"),
    ({"type": "HEADER", "key": "X-A", "value": "a b"}, "Invalid characters in header value"),
    ({"type": "COOKIE", "key": "c", "value": 'a"b'}, "Invalid characters in cookie value"),
    ({"type": "COOKIE", "key": "c", "value": "a;b"}, "Invalid characters in cookie value"),
    ({"value": ""}, "requires a value"),
    ({"value": "a\nb"}, "control characters"),
    ({"value": "/a\r\nacl x always_true"}, "control characters"),
    ({"value": "/\u00e9"}, "Invalid characters in comparison value"),
    ({"value": "x" * 256}, "at most 255"),
    ({"compare_type": "REGEX", "value": "(a"}, "Unable to parse regular expression"),
    ({"compare_type": "REGEX", "value": "\\u0041"}, "not supported by HAProxy"),
    ({"compare_type": "REGEX", "value": "(?a)x"}, "not supported by HAProxy"),
    ({"compare_type": "REGEX", "value": "\\N{DIGIT ONE}"}, "not supported by HAProxy"),
    ({"compare_type": "REGEX", "value": "a\u00e9"}, "Invalid characters in regular expression"),
    ({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "yes"}, "boolean True"),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "REGEX", "value": "0"}, "only supports"),
    ({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "value": "x"}, "key and a value"),
    ({"type": "SSL_DN_FIELD", "key": "1CN", "value": "x"}, "distinguished name field"),
    ({"type": "HOSTNAME"}, "type"),
    ({"compare_type": "LIKE"}, "compare_type"),
    ({"invert": "yes"}, "invert"),
    ({"value": 5}, "value"),
    ({"name": "rules have none"}, "Unknown attribute: name"),
    ({"tags": ["x\ny"]}, "control characters"),
    ({"bogus": True}, "Unknown attribute: bogus"),
]


@pytest.mark.parametrize(("fields", "text"), INVALID)
def test_invalid_rules_are_400_and_write_nothing(
    policy: Json, client: TestClient, fields: Json, text: str
) -> None:
    response = post(client, policy, **fields)
    assert response.status_code == 400, response.text
    assert text in response.json()["faultstring"]
    assert client.get(url(policy)).json()["rules"] == []


def test_client_certificate_rules_need_tls_termination(policy: Json, client: TestClient) -> None:
    for fields in (
        {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "true"},
        {"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "0"},
        {"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "key": "CN", "value": "a"},
    ):
        response = post(client, policy, **fields)
        assert response.status_code == 400
        assert "needs a TERMINATED_HTTPS listener" in response.json()["faultstring"]


def test_update_merges_then_checks_the_whole_rule(policy: Json, client: TestClient) -> None:
    rule = created(post(client, policy, invert=True), "rule")

    def put(**fields: Any) -> Any:
        return client.put(f"{url(policy)}/{rule['id']}", json={"rule": fields})

    changed = put(compare_type="REGEX", value="^/v[12]/")
    assert changed.status_code == 200 and changed.json()["rule"]["invert"] is True
    assert put(type="HEADER").status_code == 400  # a header rule needs a key
    header = put(type="HEADER", key="X-Env", compare_type="EQUAL_TO", value="prod").json()["rule"]
    assert (header["key"], header["value"]) == ("X-Env", "prod")
    assert put(invert=None).json()["rule"]["invert"] is False  # Octavia: unset invert is false
    assert put(value=None).status_code == 400
    assert put(value="a b").status_code == 400
    assert put(type="FILE_TYPE", compare_type="CONTAINS").status_code == 400
    assert client.get(f"{url(policy)}/{rule['id']}").json()["rule"]["value"] == "prod"


def test_fifty_rules_at_most(policy: Json, client: TestClient) -> None:
    for n in range(50):
        assert post(client, policy, value=f"/{n}").status_code == 201
    refused = post(client, policy, value="/50")
    assert refused.status_code == 409
    assert refused.json()["faultstring"] == f"Too many rules on L7 policy {policy['id']}"


def test_delete_and_other_projects(
    policy: Json, client: TestClient, make_client: MakeClient
) -> None:
    rule = created(post(client, policy), "rule")
    other = make_client(project=OTHER)
    assert other.get(url(policy)).status_code == 404
    assert other.get(f"{url(policy)}/{rule['id']}").status_code == 404
    assert post(other, policy).status_code == 404
    assert other.put(f"{url(policy)}/{rule['id']}", json={"rule": {}}).status_code == 404
    assert other.delete(f"{url(policy)}/{rule['id']}").status_code == 404
    assert post(client, policy, project_id=OTHER).status_code == 403
    elsewhere = f"/v2/lbaas/l7policies/{'0' * 8}-0000-4000-8000-{'0' * 12}/rules/{rule['id']}"
    assert client.get(elsewhere).status_code == 404
    assert client.delete(f"{url(policy)}/{rule['id']}").status_code == 204
    shown = client.get(f"{url(policy)}/{rule['id']}").json()["rule"]
    assert shown["provisioning_status"] == "PENDING_DELETE"
    assert client.delete(f"{url(policy)}/{rule['id']}").status_code == 409

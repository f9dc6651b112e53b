"""TLS attributes of listeners and pools through the API: Octavia's rules and defaults,
references checked within the project, hostile values refused with nothing written, and the
render spec and files the reconciler gets from what was stored."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models
from steelyard.db.secret_box import SecretBox
from steelyard.db.secrets import load_materials
from steelyard.db.snapshot import load_snapshot
from steelyard.model.enums import ClientAuthentication
from steelyard.model.spec import RenderSettings, RuntimePaths
from steelyard.model.tls import DEFAULT_CIPHERS
from steelyard.render.haproxy import render_haproxy
from steelyard.render.haproxy_tls import tls_files
from tests.support.certs import TestCA
from tests.unit.api.conftest import OTHER, Factory, Json, MakeClient

KEY = bytes(range(32))
CA = TestCA()
LISTENERS = "/v2/lbaas/listeners"
POOLS = "/v2/lbaas/pools"
Refs = dict[str, str]


@pytest.fixture
def tls_client(make_client: MakeClient) -> TestClient:
    return make_client(secrets_key=KEY)


@pytest.fixture
def refs(tls_client: TestClient) -> Refs:
    """secret_ref of a certificate (two), a CA and a CRL of this project."""
    found = {}
    for name, pem in (
        ("cert", CA.issue("a.example.com").bundle()),
        ("cert2", CA.issue("b.example.com").bundle()),
        ("ca", CA.cert_pem),
        ("crl", CA.crl()),
    ):
        answer = tls_client.post("/v2/steelyard/secrets", json={"secret": {"pem": pem}})
        assert answer.status_code == 201, answer.text
        found[name] = answer.json()["secret"]["secret_ref"]
    return found


@pytest.fixture
def lb(make_lb: Factory) -> Json:
    return make_lb()


def listener(client: TestClient, lb_id: str, **fields: Any) -> Any:
    body = {"loadbalancer_id": lb_id, "protocol": "TERMINATED_HTTPS", "protocol_port": 443}
    return client.post(LISTENERS, json={"listener": {**body, **fields}})


def fault(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    text: str = response.json()["faultstring"]
    return text


def test_terminated_https_gets_octavia_defaults(
    tls_client: TestClient, lb: Json, refs: Refs
) -> None:
    answer = listener(
        tls_client,
        lb["id"],
        default_tls_container_ref=refs["cert"],
        sni_container_refs=[refs["cert2"]],
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()["listener"]
    assert created["default_tls_container_ref"] == refs["cert"]  # as given
    assert created["sni_container_refs"] == [refs["cert2"]]
    assert created["client_authentication"] == "NONE"
    assert created["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert created["tls_ciphers"] == DEFAULT_CIPHERS
    assert created["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert (created["hsts_max_age"], created["hsts_include_subdomains"]) == (None, False)
    shown = tls_client.get(f"{LISTENERS}/{created['id']}").json()["listener"]
    assert shown == created


def test_plain_listeners_show_empty_tls(tls_client: TestClient, lb: Json) -> None:
    created = listener(tls_client, lb["id"], protocol="HTTP", protocol_port=80).json()["listener"]
    assert created["sni_container_refs"] == [] and created["client_authentication"] == "NONE"
    assert created["tls_versions"] is None and created["tls_ciphers"] is None


RULES: list[tuple[str, dict[str, Any], str]] = [
    ("no certificate", {}, "An SNI or default certificate container reference must be provided"),
    (
        "client auth without CA",
        {"default_tls_container_ref": "cert", "client_authentication": "MANDATORY"},
        "Client authentication setting MANDATORY requires a client CA",
    ),
    (
        "CRL without CA",
        {"default_tls_container_ref": "cert", "client_crl_container_ref": "crl"},
        "A client authentication CA reference is required",
    ),
    (
        "HSTS options without max-age",
        {"default_tls_container_ref": "cert", "hsts_preload": True},
        "only make sense if hsts_max_age is set",
    ),
    (
        "HSTS on HTTP",
        {"protocol": "HTTP", "protocol_port": 80, "hsts_max_age": 10},
        "only be used for listeners using the TERMINATED_HTTPS protocol",
    ),
    (
        "certificate on HTTP",
        {"protocol": "HTTP", "protocol_port": 80, "default_tls_container_ref": "cert"},
        "only allowed on TERMINATED_HTTPS",
    ),
    (
        "versions on TCP",
        {"protocol": "TCP", "protocol_port": 80, "tls_versions": ["TLSv1.3"]},
        "only for TERMINATED_HTTPS",
    ),
    (
        "client auth on HTTPS",
        {"protocol": "HTTPS", "protocol_port": 80, "client_authentication": "OPTIONAL"},
        "only for TERMINATED_HTTPS",
    ),
    ("empty versions", {"default_tls_container_ref": "cert", "tls_versions": []}, "Empty TLS"),
    (
        "unknown version",
        {"default_tls_container_ref": "cert", "tls_versions": ["TLSv1.2", "TLSv2"]},
        "Invalid TLS versions: TLSv2",
    ),
    (
        "version gap",
        {"default_tls_container_ref": "cert", "tls_versions": ["TLSv1", "TLSv1.3"]},
        "without gaps",
    ),
    (
        "unknown ALPN",
        {"default_tls_container_ref": "cert", "alpn_protocols": ["h2", "h3"]},
        "Invalid ALPN protocol: h3",
    ),
    ("empty ALPN", {"default_tls_container_ref": "cert", "alpn_protocols": []}, "Empty ALPN"),
    (
        "same SNI twice",
        {"default_tls_container_ref": "cert", "sni_container_refs": ["cert2", "cert2"]},
        "same reference twice",
    ),
    (
        "CA as certificate",
        {"default_tls_container_ref": "ca"},
        "default_tls_container_ref needs a certificate secret",
    ),
    (
        "certificate as CA",
        {
            "default_tls_container_ref": "cert",
            "client_authentication": "OPTIONAL",
            "client_ca_tls_container_ref": "cert2",
        },
        "needs a ca secret",
    ),
    (
        "SSL header on HTTP",
        {"protocol": "HTTP", "protocol_port": 80, "insert_headers": {"X-SSL-Client-DN": "true"}},
        "unsupported header on HTTP listeners",
    ),
]


@pytest.mark.parametrize(("fields", "message"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_octavia_rules(
    tls_client: TestClient,
    lb: Json,
    refs: Refs,
    row_counts: Callable[[], dict[str, int]],
    fields: dict[str, Any],
    message: str,
) -> None:
    before = row_counts()
    named = {
        key: refs.get(value, value) if isinstance(value, str) else value
        for key, value in fields.items()
    }
    if "sni_container_refs" in named:
        named["sni_container_refs"] = [refs[name] for name in fields["sni_container_refs"]]
    assert message in fault(listener(tls_client, lb["id"], **named))
    assert row_counts() == before


HOSTILE_VALUES: list[tuple[str, dict[str, Any]]] = [
    ("cipher newline", {"tls_ciphers": "AES128-SHA\n    server x 1.2.3.4:80"}),
    ("cipher space", {"tls_ciphers": "AES128-SHA verify none"}),
    ("cipher hash", {"tls_ciphers": "AES128-SHA#x"}),
    ("cipher quote", {"tls_ciphers": "AES128-SHA'x"}),
    ("cipher dollar", {"tls_ciphers": "${HOME}"}),
    ("cipher too long", {"tls_ciphers": "A" * 2049}),
    ("cipher not a string", {"tls_ciphers": 5}),
    ("versions not a list", {"tls_versions": "TLSv1.3"}),
    ("ALPN with comma", {"alpn_protocols": ["h2,http/1.1"]}),
    ("reference with newline", {"default_tls_container_ref": "x\ny"}),
    ("reference garbage", {"default_tls_container_ref": "not a ref"}),
    (
        "barbican reference",
        {
            "default_tls_container_ref": "https://kms/v1/containers/"
            + "0" * 8
            + "-0000-4000-8000-"
            + "0" * 12
        },
    ),
    ("reference too long", {"default_tls_container_ref": "/v2/steelyard/secrets/" + "a" * 300}),
    ("unknown secret", {"default_tls_container_ref": "00000000-0000-4000-8000-000000000000"}),
    ("client auth word", {"client_authentication": "SOMETIMES"}),
    ("hsts negative", {"hsts_max_age": -1}),
    ("hsts huge", {"hsts_max_age": 2**31}),
    ("too many SNI", {"sni_container_refs": ["00000000-0000-4000-8000-000000000000"] * 101}),
]


@pytest.mark.parametrize(
    "fields", [h[1] for h in HOSTILE_VALUES], ids=[h[0] for h in HOSTILE_VALUES]
)
def test_hostile_values_are_refused(
    tls_client: TestClient,
    lb: Json,
    refs: Refs,
    row_counts: Callable[[], dict[str, int]],
    fields: dict[str, Any],
) -> None:
    before = row_counts()
    body = {"default_tls_container_ref": refs["cert"], **fields}
    fault(listener(tls_client, lb["id"], **body))
    assert row_counts() == before


def test_other_projects_secrets_cannot_be_used(
    make_client: MakeClient, make_lb: Factory, refs: Refs
) -> None:
    stranger = make_client(project=OTHER, secrets_key=KEY)
    their_lb = make_lb(via=stranger)
    answer = listener(stranger, their_lb["id"], default_tls_container_ref=refs["cert"])
    assert fault(answer) == f"Could not retrieve certificate: ['{refs['cert']}']"
    pool = stranger.post(
        POOLS,
        json={
            "pool": {
                "loadbalancer_id": their_lb["id"],
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "tls_enabled": True,
                "ca_tls_container_ref": refs["ca"],
            }
        },
    )
    assert "Could not retrieve certificate" in fault(pool)


def test_updates_merge_and_are_checked_as_a_whole(
    tls_client: TestClient, lb: Json, refs: Refs
) -> None:
    created = listener(tls_client, lb["id"], default_tls_container_ref=refs["cert"]).json()
    url = f"{LISTENERS}/{created['listener']['id']}"

    def put(**fields: Any) -> Any:
        return tls_client.put(url, json={"listener": fields})

    assert "requires a client CA" in fault(put(client_authentication="MANDATORY"))
    assert tls_client.get(url).json()["listener"]["client_authentication"] == "NONE"
    changed = put(
        client_authentication="MANDATORY",
        client_ca_tls_container_ref=refs["ca"],
        client_crl_container_ref=refs["crl"],
        tls_versions=["TLSv1.3"],
        hsts_max_age=600,
        insert_headers={"X-SSL-Client-CN": "true"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["listener"]["tls_versions"] == ["TLSv1.3"]
    # the CA cannot go while client authentication needs it
    assert "requires a client CA" in fault(put(client_ca_tls_container_ref=None))
    reset = put(tls_versions=None, client_authentication=None, client_crl_container_ref=None)
    assert reset.status_code == 200, reset.text
    after = reset.json()["listener"]
    assert after["tls_versions"] == ["TLSv1.2", "TLSv1.3"]  # null: Octavia's default again
    assert after["client_authentication"] == "NONE"
    assert after["client_ca_tls_container_ref"] == refs["ca"]
    assert "provided for TERMINATED_HTTPS" in fault(put(default_tls_container_ref=None))


def test_pools_reencrypt_with_defaults_and_proxy_protocols(
    tls_client: TestClient, lb: Json, refs: Refs, make_listener: Factory
) -> None:
    def pool(**fields: Any) -> Any:
        base = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
        return tls_client.post(POOLS, json={"pool": {**base, **fields}})

    plain = pool().json()["pool"]
    assert (plain["tls_enabled"], plain["tls_versions"], plain["tls_ciphers"]) == (
        False,
        None,
        None,
    )
    tls = pool(tls_enabled=True, tls_container_ref=refs["cert"], ca_tls_container_ref=refs["ca"])
    assert tls.status_code == 201, tls.text
    created = tls.json()["pool"]
    assert created["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert created["alpn_protocols"] == ["http/1.1", "http/1.0"]
    assert created["tls_ciphers"] == DEFAULT_CIPHERS
    assert "A CA reference is required" in fault(pool(crl_container_ref=refs["crl"]))
    assert "not supported for HTTPS pools" in fault(pool(protocol="HTTPS", tls_enabled=True))
    assert "without gaps" in fault(pool(tls_versions=["SSLv3", "TLSv1.2"]))
    for protocol in ("PROXY", "PROXYV2", "HTTPS"):
        assert pool(protocol=protocol).status_code == 201, protocol
    # turning TLS on later fills the defaults in
    turned = tls_client.put(f"{POOLS}/{plain['id']}", json={"pool": {"tls_enabled": True}})
    assert turned.json()["pool"]["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    # Octavia's pairs: HTTPS passthrough listeners take HTTPS/TCP/PROXY pools, not HTTP ones
    https = make_listener(lb["id"], protocol="HTTPS", protocol_port=443)
    wrong = pool(listener_id=https["id"], loadbalancer_id=None)
    assert "is invalid while the listener protocol is 'HTTPS'" in fault(wrong)
    assert pool(listener_id=https["id"], protocol="HTTPS").status_code == 201


def test_fully_populated_tls_renders_with_its_files(
    tls_client: TestClient, refs: Refs, sessions: sessionmaker[Session]
) -> None:
    body = {
        "loadbalancer": {
            "name": "tls",
            "listeners": [
                {
                    "protocol": "TERMINATED_HTTPS",
                    "protocol_port": 443,
                    "default_tls_container_ref": refs["cert"],
                    "sni_container_refs": [refs["cert2"]],
                    "client_authentication": "OPTIONAL",
                    "client_ca_tls_container_ref": refs["ca"],
                    "default_pool": {
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "tls_enabled": True,
                        "ca_tls_container_ref": refs["ca"],
                        "members": [{"address": "192.0.2.10", "protocol_port": 443}],
                    },
                }
            ],
        }
    }
    answer = tls_client.post("/v2/lbaas/loadbalancers", json=body)
    assert answer.status_code == 201, answer.text
    full = answer.json()["loadbalancer"]
    assert full["listeners"][0]["sni_container_refs"] == [refs["cert2"]]
    assert full["pools"][0]["tls_enabled"] is True

    with sessions() as session:
        snap = load_snapshot(session, full["id"])
        assert snap is not None
        materials = load_materials(session, snap.spec, SecretBox(KEY))
        versions = dict(session.execute(select(models.Secret.id, models.Secret.version)).all())
    spec = snap.spec
    tls = spec.listeners[0].tls
    assert tls is not None and spec.pools[0].tls is not None
    assert [f.version for f in tls.certificates] == [
        versions[f.secret_id] for f in tls.certificates
    ]
    assert tls.client_authentication is ClientAuthentication.OPTIONAL
    paths = RuntimePaths("/run/a/stats.sock", "/run/a/state", tls_dir="/run/a/tls")
    config = render_haproxy(spec, RenderSettings(paths=paths))
    files = tls_files(spec, materials, paths.tls_dir)
    # every file the config names is there, and only those
    named = {word.rsplit("/", 1)[1] for word in config.split() if word.startswith("/run/a/tls/")}
    assert named <= set(files) and len(files) == 4  # crt-list, two certificates, the CA
    assert sum("PRIVATE KEY" in text for text in files.values()) == 2

"""The TLS secret store: upload (PEM bundle, PKCS#12, CA, CRL), read without key material,
encryption at rest, project isolation, deletion refused while in use, rotation."""

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models
from steelyard.db.secret_box import SecretBox, load_or_create_key, seal_context
from tests.support.certs import TestCA, key_pem
from tests.unit.api.conftest import OTHER, Factory, Json, MakeClient

SECRETS = "/v2/steelyard/secrets"
KEY = bytes(range(32))
CA = TestCA()
Upload = Callable[..., Json]


@pytest.fixture
def tls_client(make_client: MakeClient) -> TestClient:
    return make_client(secrets_key=KEY)


@pytest.fixture
def upload(tls_client: TestClient) -> Upload:
    def make(pem: str, via: TestClient | None = None, **fields: Any) -> Json:
        response = (via or tls_client).post(SECRETS, json={"secret": {"pem": pem, **fields}})
        assert response.status_code == 201, response.text
        secret: Json = response.json()["secret"]
        return secret

    return make


def refused(client: TestClient, body: Json, status: int = 400) -> str:
    response = client.post(SECRETS, json={"secret": body})
    assert response.status_code == status, response.text
    text: str = response.json()["faultstring"]
    return text


def test_a_certificate_bundle_is_described_and_never_shown(
    tls_client: TestClient, upload: Upload
) -> None:
    intermediate = CA.intermediate()
    leaf = intermediate.issue("www.example.com", ["www.example.com", "example.com", "192.0.2.7"])
    secret = upload(leaf.bundle(), name="www")

    assert secret["type"] == "certificate"
    assert secret["name"] == "www"
    assert secret["subject"] == "CN=www.example.com"
    assert secret["issuer"] == "CN=Steelyard Test Intermediate"
    assert secret["subject_alt_names"] == ["www.example.com", "example.com", "192.0.2.7"]
    assert secret["certificates"] == 2  # the leaf and its intermediate
    assert secret["fingerprint_sha256"] == leaf.cert.fingerprint(hashes.SHA256()).hex()
    assert secret["not_after"] == f"{leaf.cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%S}"
    assert secret["secret_ref"] == f"http://testserver{SECRETS}/{secret['id']}"
    for answer in (
        tls_client.get(f"{SECRETS}/{secret['id']}").text,
        tls_client.get(SECRETS).text,
        str(secret),
    ):
        assert "PRIVATE" not in answer and "BEGIN" not in answer
    assert tls_client.get(SECRETS).json()["secrets"] == [secret]


def test_pkcs12_ca_and_crl_uploads(tls_client: TestClient) -> None:
    leaf = CA.issue("p12.example.com")
    p12 = base64.b64encode(leaf.pkcs12(b"s3cret")).decode()
    ok = tls_client.post(SECRETS, json={"secret": {"pkcs12": p12, "passphrase": "s3cret"}})
    assert ok.status_code == 201, ok.text
    assert ok.json()["secret"]["subject"] == "CN=p12.example.com"
    assert "passphrase" in refused(tls_client, {"pkcs12": p12, "passphrase": "wrong"})

    ca = tls_client.post(SECRETS, json={"secret": {"pem": CA.cert_pem}}).json()["secret"]
    assert (ca["type"], ca["subject"], ca["certificates"]) == ("ca", "CN=Steelyard Test CA", 1)
    crl = tls_client.post(SECRETS, json={"secret": {"pem": CA.crl(), "type": "crl"}})
    assert crl.json()["secret"]["type"] == "crl"
    assert crl.json()["secret"]["issuer"] == "CN=Steelyard Test CA"

    encrypted = leaf.cert_pem + key_pem(leaf.key, b"pw")
    assert (
        tls_client.post(
            SECRETS, json={"secret": {"pem": encrypted, "passphrase": "pw"}}
        ).status_code
        == 201
    )


def test_keys_are_encrypted_at_rest(
    upload: Upload, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    leaf = CA.issue("www.example.com")
    secret = upload(leaf.bundle())
    key_der = leaf.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with sessions() as session:
        row = session.get_one(models.Secret, secret["id"])
        stored = b"".join(
            str(value).encode() if not isinstance(value, bytes) else value
            for value in (getattr(row, c.key) for c in models.Secret.__table__.columns)
        )
        opened = SecretBox(KEY).open(row.sealed, seal_context(row.id, row.project_id, row.version))
        # sealed to this row: another row's id, project or version does not open it
        with pytest.raises(Exception, match="does not open"):
            SecretBox(KEY).open(row.sealed, seal_context(row.id, OTHER, row.version))
    assert b"PRIVATE KEY" not in stored and key_der not in stored
    assert leaf.key_pem.split("\n")[1] not in stored.decode(errors="replace")
    assert opened.startswith(leaf.cert_pem) and opened.endswith(leaf.key_pem)
    # nowhere in the database file either (WAL included)
    database = b"".join(p.read_bytes() for p in tmp_path.glob("steelyard.db*"))
    assert b"PRIVATE KEY" not in database and key_der not in database


def test_the_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and load_or_create_key(path) == key
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others"):
        load_or_create_key(path)


EXPIRED = CA.issue("old.example.com", days=-1, not_before_days=-30)
OTHER_KEY = CA.issue("x.example.com")
HOSTILE: list[tuple[str, Json, str]] = [
    ("garbage", {"pem": "hello"}, "not PEM"),
    ("binary", {"pem": "\x00\x01\x02"}, "not PEM"),
    (
        "bad block",
        {"pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
        "invalid",
    ),
    ("unknown block", {"pem": "-----BEGIN FOO-----\nAAAA\n-----END FOO-----"}, "unsupported"),
    ("key mismatch", {"pem": CA.issue("a").cert_pem + OTHER_KEY.key_pem}, "does not match"),
    ("key alone", {"pem": OTHER_KEY.key_pem}, "needs its certificate"),
    ("two keys", {"pem": OTHER_KEY.bundle() + OTHER_KEY.key_pem}, "exactly one private key"),
    ("expired", {"pem": EXPIRED.bundle()}, "expired"),
    ("small RSA", {"pem": CA.issue("w", key=None, rsa_bits=1024).bundle()}, "2048"),
    ("huge", {"pem": OTHER_KEY.bundle() + "\n" * 300_000}, "at most"),
    ("both payloads", {"pem": OTHER_KEY.bundle(), "pkcs12": "AAAA"}, "either pem or pkcs12"),
    ("no payload", {"name": "x"}, "either pem or pkcs12"),
    ("passphrase alone", {"passphrase": "x", "pkcs12": None}, "pem or pkcs12"),
    ("pkcs12 not base64", {"pkcs12": "not base64!"}, "base64"),
    ("pkcs12 garbage", {"pkcs12": base64.b64encode(b"x" * 50).decode()}, "PKCS#12"),
    ("wrong type", {"pem": CA.cert_pem, "type": "certificate"}, "expected a certificate"),
    ("unknown type", {"pem": CA.cert_pem, "type": "key"}, "Invalid input"),
    ("newline in name", {"pem": CA.cert_pem, "name": "a\nb"}, "control characters"),
    ("long name", {"pem": CA.cert_pem, "name": "n" * 256}, "Invalid input"),
    ("pem not a string", {"pem": 5}, "Invalid input"),
    ("unknown attribute", {"pem": CA.cert_pem, "private_key": "x"}, "Unknown attribute"),
    ("CA with CRL", {"pem": CA.cert_pem + CA.crl()}, "separate secrets"),
    # quadratic for a regular expression: thousands of blocks that never end
    ("BEGIN flood", {"pem": "-----BEGIN CERTIFICATE-----\n" * 9000}, "has no END line"),
    ("too many blocks", {"pem": CA.cert_pem * 202}, "too many PEM blocks"),
]


@pytest.mark.parametrize(
    ("body", "message"), [(b, m) for _, b, m in HOSTILE], ids=[n for n, _, _ in HOSTILE]
)
def test_hostile_uploads_are_refused_with_a_reason(
    tls_client: TestClient, sessions: sessionmaker[Session], body: Json, message: str
) -> None:
    assert message in refused(tls_client, body)
    with sessions() as session:
        assert session.scalars(select(models.Secret)).all() == []


def test_other_projects_see_nothing(make_client: MakeClient, upload: Upload) -> None:
    secret = upload(CA.cert_pem)
    stranger = make_client(project=OTHER, secrets_key=KEY)
    for method in ("GET", "PUT", "DELETE"):
        body = {"secret": {"name": "mine"}} if method == "PUT" else None
        answer = stranger.request(method, f"{SECRETS}/{secret['id']}", json=body)
        assert answer.status_code == 404, method
        assert answer.json()["faultstring"] == f"Secret {secret['id']} not found."
    assert stranger.get(SECRETS).json()["secrets"] == []
    admin = make_client(project=None, secrets_key=KEY)
    assert [s["id"] for s in admin.get(SECRETS).json()["secrets"]] == [secret["id"]]


def test_readers_read_and_only_members_write(make_client: MakeClient, upload: Upload) -> None:
    secret = upload(CA.cert_pem)
    reader = make_client(roles="reader", secrets_key=KEY)
    assert reader.get(f"{SECRETS}/{secret['id']}").status_code == 200
    assert reader.post(SECRETS, json={"secret": {"pem": CA.cert_pem}}).status_code == 403
    assert reader.delete(f"{SECRETS}/{secret['id']}").status_code == 403


def test_a_secret_in_use_cannot_be_deleted(
    tls_client: TestClient,
    upload: Upload,
    make_lb: Factory,
) -> None:
    first, second = upload(CA.issue("a.example").bundle()), upload(CA.issue("b.example").bundle())
    lb = make_lb()
    listener = tls_client.post(
        "/v2/lbaas/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "TERMINATED_HTTPS",
                "protocol_port": 443,
                "default_tls_container_ref": first["secret_ref"],
            }
        },
    )
    assert listener.status_code == 201, listener.text
    in_use = tls_client.delete(f"{SECRETS}/{first['id']}")
    assert in_use.status_code == 409
    assert listener.json()["listener"]["id"] in in_use.json()["faultstring"]

    moved = tls_client.put(
        f"/v2/lbaas/listeners/{listener.json()['listener']['id']}",
        json={"listener": {"default_tls_container_ref": second["id"]}},  # the bare id works too
    )
    assert moved.status_code == 200, moved.text
    assert tls_client.delete(f"{SECRETS}/{first['id']}").status_code == 204
    assert tls_client.get(f"{SECRETS}/{first['id']}").status_code == 404
    assert tls_client.delete(f"{SECRETS}/{second['id']}").status_code == 409


def test_new_content_rotates_every_user(
    tls_client: TestClient,
    upload: Upload,
    make_lb: Factory,
    settle: Callable[[], None],
    sessions: sessionmaker[Session],
    notified: list[str],
) -> None:
    secret = upload(CA.issue("www.example.com").bundle())
    lb = make_lb()
    created = tls_client.post(
        "/v2/lbaas/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "TERMINATED_HTTPS",
                "protocol_port": 443,
                "sni_container_refs": [secret["secret_ref"]],
            }
        },
    )
    assert created.status_code == 201, created.text
    settle()
    with sessions() as session:
        before = session.get_one(models.Secret, secret["id"]).version
        generation = session.get_one(models.LoadBalancer, lb["id"]).desired_generation
    notified.clear()

    renewed = CA.issue("www.example.com", days=90)
    answer = tls_client.put(f"{SECRETS}/{secret['id']}", json={"secret": {"pem": renewed.bundle()}})
    assert answer.status_code == 200, answer.text
    assert (
        answer.json()["secret"]["not_after"]
        == f"{renewed.cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%S}"
    )
    assert notified == [lb["id"]]
    with sessions() as session:
        assert session.get_one(models.Secret, secret["id"]).version != before
        lb_row = session.get_one(models.LoadBalancer, lb["id"])
        assert (lb_row.desired_generation, lb_row.provisioning_status) == (
            generation + 1,
            "PENDING_UPDATE",
        )
    listener = tls_client.get(f"/v2/lbaas/listeners/{created.json()['listener']['id']}")
    assert listener.json()["listener"]["provisioning_status"] == "PENDING_UPDATE"

    # a rename alone touches no load balancer; other content types are refused
    notified.clear()
    assert (
        tls_client.put(f"{SECRETS}/{secret['id']}", json={"secret": {"name": "w"}}).json()[
            "secret"
        ]["name"]
        == "w"
    )
    assert notified == []
    wrong = tls_client.put(f"{SECRETS}/{secret['id']}", json={"secret": {"pem": CA.cert_pem}})
    assert wrong.status_code == 400
    assert "expected a certificate" in wrong.json()["faultstring"]


def test_without_a_key_the_store_is_unavailable(client: TestClient) -> None:
    answer = client.post(SECRETS, json={"secret": {"pem": CA.cert_pem}})
    assert answer.status_code == 503
    assert answer.json()["faultstring"] == "The secret store is not configured on this server."

"""TLS end to end: certificates uploaded to the secret store, listeners and pools that use them,
and real TLS clients through the VIP (Python's `ssl`, checking what the server presents).

One load balancer carries every case, each on its own listener:

    443   TERMINATED_HTTPS  default + SNI certificates, ALPN h2, HSTS, X-SSL-* headers
    8443  TERMINATED_HTTPS  client certificates MANDATORY (CA + CRL)
    8444  TERMINATED_HTTPS  client certificates OPTIONAL
    80    HTTP              -> a pool re-encrypting to a TLS member, verified against its CA
    9443  HTTPS             -> an HTTPS pool: TLS passed through to the same member
"""

import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.e2e.harness import ServerHandle, wait_until
from tests.e2e.lbtools import create_lb, wait_active
from tests.support.certs import Leaf, TestCA, cert_pem
from tests.support.http_backend import HttpBackend

pytestmark = pytest.mark.root

SITE_CA = TestCA("Site CA")  # the listeners' certificates
CLIENT_CA = TestCA("Client CA")  # client certificates for client authentication
MEMBER_CA = TestCA("Member CA")  # the TLS member's certificate


class _TlsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_TlsServer"

    def do_GET(self) -> None:
        body = json.dumps({"backend": "tls-member", "headers": dict(self.headers.items())})
        data = body.encode()
        self.send_response(200)
        self.send_header("X-Backend", "tls-member")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _TlsServer(ThreadingHTTPServer):
    """An HTTPS member: TLS is taken in the handler thread (a stalled client blocks nobody)."""

    daemon_threads = True

    def __init__(self, host: str, leaf: Leaf) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        load_chain(self.context, leaf)
        super().__init__((host, 0), _TlsHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # health checks and passthrough probes hang up mid-handshake


def load_chain(context: ssl.SSLContext, leaf: Leaf) -> None:
    """`ssl` loads certificates from files only: these live just long enough to be read."""
    with tempfile.TemporaryDirectory(prefix="sy-tls-") as directory:
        cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
        cert.write_text(leaf.cert_pem + "".join(cert_pem(c) for c in leaf.chain))
        key.write_text(leaf.key_pem)
        context.load_cert_chain(cert, key)


@pytest.fixture
def tls_member(netns_server: ServerHandle) -> Iterator[tuple[_TlsServer, Leaf]]:
    leaf = MEMBER_CA.issue("member.internal", [netns_server.member_host])
    server = _TlsServer(netns_server.member_host, leaf)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server, leaf
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def plain_member(netns_server: ServerHandle) -> Iterator[HttpBackend]:
    with HttpBackend("plain", netns_server.member_host) as backend:
        yield backend


def upload(api: httpx.Client, pem: str, name: str = "") -> dict[str, Any]:
    response = api.post("/v2/steelyard/secrets", json={"secret": {"pem": pem, "name": name}})
    assert response.status_code == 201, response.text
    secret: dict[str, Any] = response.json()["secret"]
    return secret


def client_context(
    ca: TestCA, cert: Leaf | None = None, alpn: list[str] | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca.cert_pem)
    context.check_hostname = False  # the SNI name is checked by comparing certificates
    if cert is not None:
        load_chain(context, cert)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def tls_get(
    host: str, port: int, context: ssl.SSLContext, sni: str | None, path: str = "/"
) -> tuple[x509.Certificate, str | None, int, dict[str, str], bytes]:
    """One HTTPS/1.1 request on a new connection: (peer certificate, ALPN, status, headers,
    body). TLS errors (a refused client certificate) raise ssl.SSLError or ConnectionError."""
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        alpn = tls.selected_alpn_protocol()
        if alpn == "h2":
            return x509.load_der_x509_certificate(der), alpn, 0, {}, b""
        tls.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {sni or host}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    if not lines or len(lines[0].split()) < 2:
        raise ConnectionError(f"no HTTP answer: {data[:200]!r}")
    # HAProxy sends header names in lower case (HTX); compare them so.
    headers = {name.lower(): value for name, value in (ln.split(": ", 1) for ln in lines[1:])}
    return x509.load_der_x509_certificate(der), alpn, int(lines[0].split()[1]), headers, body


def echoed(body: bytes) -> dict[str, str]:
    """The request headers a member's /echo saw, names in lower case."""
    return {name.lower(): value for name, value in json.loads(body)["headers"].items()}


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def test_termination_sni_alpn_client_auth_reencryption_and_passthrough(
    netns_server: ServerHandle,
    tls_member: tuple[_TlsServer, Leaf],
    plain_member: HttpBackend,
) -> None:
    member_server, member_leaf = tls_member
    host = netns_server.member_host
    site_a = SITE_CA.issue("a.example.com", ["a.example.com"], rsa_bits=2048)
    site_b = SITE_CA.issue("b.example.com", ["b.example.com", "*.b.example.com"])
    good_client = CLIENT_CA.issue("alice", client=True)
    revoked_client = CLIENT_CA.issue("mallory", client=True)
    stranger = TestCA("Other CA").issue("eve", client=True)
    with netns_server.api() as api:
        a, b = upload(api, site_a.bundle(), "a"), upload(api, site_b.bundle(), "b")
        client_ca = upload(api, CLIENT_CA.cert_pem, "client ca")
        crl = upload(api, CLIENT_CA.crl([revoked_client.cert]), "crl")
        member_ca = upload(api, MEMBER_CA.cert_pem, "member ca")
        plain_pool = {
            "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN",
            "members": [{"address": host, "protocol_port": plain_member.port}],
        }
        terminated = {"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": a["secret_ref"]}
        body = {
            "loadbalancer": {
                "name": "tls",
                "listeners": [
                    {
                        **terminated,
                        "protocol_port": 443,
                        "sni_container_refs": [b["secret_ref"]],
                        "hsts_max_age": 3600,
                        "hsts_include_subdomains": True,
                        "insert_headers": {"X-Forwarded-Proto": "true"},
                        "default_pool": {"name": "plain", **plain_pool},
                    },
                    {
                        **terminated,
                        "protocol_port": 8443,
                        "client_authentication": "MANDATORY",
                        "client_ca_tls_container_ref": client_ca["secret_ref"],
                        "client_crl_container_ref": crl["secret_ref"],
                        "insert_headers": {
                            "X-SSL-Client-CN": "true",
                            "X-SSL-Client-Verify": "true",
                        },
                        "default_pool": {"name": "plain"},
                    },
                    {
                        **terminated,
                        "protocol_port": 8444,
                        "client_authentication": "OPTIONAL",
                        "client_ca_tls_container_ref": client_ca["secret_ref"],
                        "insert_headers": {"X-SSL-Client-Has-Cert": "true"},
                        "default_pool": {"name": "plain"},
                    },
                    {
                        "protocol": "HTTP",
                        "protocol_port": 80,
                        "default_pool": {
                            "protocol": "HTTP",
                            "lb_algorithm": "ROUND_ROBIN",
                            "tls_enabled": True,
                            "ca_tls_container_ref": member_ca["secret_ref"],
                            "members": [
                                {"address": host, "protocol_port": member_server.server_address[1]}
                            ],
                        },
                    },
                    {
                        "protocol": "HTTPS",
                        "protocol_port": 9443,
                        "default_pool": {
                            "protocol": "HTTPS",
                            "lb_algorithm": "ROUND_ROBIN",
                            "members": [
                                {"address": host, "protocol_port": member_server.server_address[1]}
                            ],
                        },
                    },
                ],
            }
        }
        lb = wait_active(api, create_lb(api, body)["id"], timeout_s=60)
    vip = lb["vip_address"]

    # SNI picks the certificate; an unknown name (or none) gets the default one.
    site = client_context(SITE_CA)
    assert tls_get(vip, 443, site, "b.example.com")[0] == site_b.cert
    assert tls_get(vip, 443, site, "x.b.example.com")[0] == site_b.cert
    assert tls_get(vip, 443, site, "a.example.com")[0] == site_a.cert
    assert tls_get(vip, 443, site, "unknown.example.org")[0] == site_a.cert
    _, alpn, status, headers, answer = tls_get(vip, 443, site, "a.example.com", "/echo")
    assert (alpn, status) == (None, 200)
    assert headers["strict-transport-security"] == "max-age=3600;includeSubDomains"
    assert echoed(answer)["x-forwarded-proto"] == "https"
    # ALPN: h2 when the client offers it, http/1.1 when that is all it speaks
    assert (
        tls_get(vip, 443, client_context(SITE_CA, alpn=["h2", "http/1.1"]), "a.example.com")[1]
        == "h2"
    )
    http11 = tls_get(vip, 443, client_context(SITE_CA, alpn=["http/1.1"]), "a.example.com")
    assert (http11[1], http11[2]) == ("http/1.1", 200)

    # MANDATORY: no certificate, a stranger's, a revoked one are refused; alice is let in
    for who in (None, stranger, revoked_client):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_get(vip, 8443, client_context(SITE_CA, who), "a.example.com")
    _, _, status, _, answer = tls_get(
        vip, 8443, client_context(SITE_CA, good_client), "a.example.com", "/echo"
    )
    seen = echoed(answer)
    assert (status, seen["x-ssl-client-cn"], seen["x-ssl-client-verify"]) == (200, "alice", "0")

    # OPTIONAL: with or without a certificate; a certificate from elsewhere is still refused
    without = tls_get(vip, 8444, client_context(SITE_CA), "a.example.com", "/echo")
    with_cert = tls_get(vip, 8444, client_context(SITE_CA, good_client), "a.example.com", "/echo")
    assert echoed(without[4])["x-ssl-client-has-cert"] == "0"
    assert echoed(with_cert[4])["x-ssl-client-has-cert"] == "1"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_get(vip, 8444, client_context(SITE_CA, stranger), "a.example.com")

    # Re-encryption: plain HTTP in, TLS to the member (verified against the member CA)
    reencrypted = httpx.get(f"http://{vip}:80/", timeout=10)
    assert reencrypted.status_code == 200
    assert reencrypted.headers["X-Backend"] == "tls-member"

    # Passthrough: the member's own certificate reaches the client
    member_view = tls_get(vip, 9443, client_context(MEMBER_CA), "member.internal")
    assert member_view[0] == member_leaf.cert and member_view[2] == 200


def test_rotation_under_tls_load_drops_no_request(
    netns_server: ServerHandle, plain_member: HttpBackend
) -> None:
    first = SITE_CA.issue("www.example.com")
    with netns_server.api() as api:
        secret = upload(api, first.bundle())
        other = SITE_CA.issue("www.example.com", days=60)
        spare = upload(api, other.bundle())
        listener = {
            "protocol": "TERMINATED_HTTPS",
            "protocol_port": 443,
            "default_tls_container_ref": secret["secret_ref"],
            "default_pool": {
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "members": [
                    {"address": netns_server.member_host, "protocol_port": plain_member.port}
                ],
            },
        }
        lb = create_lb(api, {"loadbalancer": {"name": "rotate", "listeners": [listener]}})
        lb = wait_active(api, lb["id"], timeout_s=60)
        vip, listener_id = lb["vip_address"], lb["listeners"][0]["id"]
        context = client_context(SITE_CA)
        served: list[str] = []
        failures: list[str] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    cert, _, status, _, _ = tls_get(vip, 443, context, "www.example.com")
                    served.append(fingerprint(cert))
                    if status != 200:
                        failures.append(f"HTTP {status}")
                except (OSError, ssl.SSLError) as exc:
                    failures.append(repr(exc))

        thread = threading.Thread(target=load)
        thread.start()
        expected = [fingerprint(first.cert)]
        try:
            for round_ in range(3):
                # New content behind the same reference (renewal) ...
                renewed = SITE_CA.issue("www.example.com", days=30 + round_)
                api.put(
                    f"/v2/steelyard/secrets/{secret['id']}",
                    json={"secret": {"pem": renewed.bundle()}},
                ).raise_for_status()
                wait_active(api, lb["id"], timeout_s=60)
                expected.append(fingerprint(renewed.cert))
                wait_until(lambda: served and served[-1] == expected[-1], timeout_s=10)
            # ... and another reference on the listener
            api.put(
                f"/v2/lbaas/listeners/{listener_id}",
                json={"listener": {"default_tls_container_ref": spare["secret_ref"]}},
            ).raise_for_status()
            wait_active(api, lb["id"], timeout_s=60)
            expected.append(fingerprint(other.cert))
            wait_until(lambda: served and served[-1] == expected[-1], timeout_s=10)
            time.sleep(0.3)
        finally:
            stop.set()
            thread.join()
    assert failures == []
    assert len(served) > 50
    assert [f for i, f in enumerate(served) if i == 0 or served[i - 1] != f] == expected

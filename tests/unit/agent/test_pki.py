"""ensure_pki: one CA, two leaves with distinct purposes, idempotent, renewed before expiry."""

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from steelyard.agent.pki import (
    PkiPaths,
    client_ssl_context,
    ensure_pki,
    server_ssl_context,
)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def files(pki: PkiPaths) -> list[Path]:
    return [
        pki.ca_cert,
        pki.ca_key,
        pki.server_cert,
        pki.server_key,
        pki.client_cert,
        pki.client_key,
    ]


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, hostname: str = "127.0.0.1") -> None:
    """A TLS handshake in memory; raises ssl.SSLError when either side refuses."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, side in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            # TLS 1.3 servers judge the client certificate after the client is "done":
            # an exchange of data surfaces the verdict on the client side.
            c.write(b"ping")
            s_in.write(c_out.read())
            assert s.read(4) == b"ping"
            return
    raise AssertionError("handshake did not finish")


def test_creates_ca_and_leaves_private(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki")
    for path in files(pki):
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "pki").stat().st_mode & 0o777 == 0o700
    ca, server, client = load(pki.ca_cert), load(pki.server_cert), load(pki.client_cert)
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=3640) < ca.not_valid_after_utc - now < dt.timedelta(days=3651)
    assert dt.timedelta(days=360) < server.not_valid_after_utc - now < dt.timedelta(days=366)
    assert pki.server_not_after == server.not_valid_after_utc
    assert pki.client_not_after == client.not_valid_after_utc
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    server_eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    client_eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(server_eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert list(client_eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert "server" in (tmp_path / "pki" / "expiry.json").read_text()


def test_second_call_changes_nothing(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path)
    before = {path: path.read_bytes() for path in files(first)}
    second = ensure_pki(tmp_path)
    assert second == first
    assert {path: path.read_bytes() for path in files(second)} == before


def test_missing_leaf_is_reissued_by_the_same_ca(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path)
    ca_before = first.ca_cert.read_bytes()
    first.client_key.unlink()
    second = ensure_pki(tmp_path)
    assert second.ca_cert.read_bytes() == ca_before
    load(second.client_cert).verify_directly_issued_by(load(second.ca_cert))


def test_leaves_are_renewed_before_expiry(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path)
    server_before = first.server_cert.read_bytes()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=340)
    second = ensure_pki(tmp_path, now=later)
    assert second.server_cert.read_bytes() != server_before
    assert second.server_not_after > first.server_not_after
    assert second.ca_cert.read_bytes() == first.ca_cert.read_bytes()


def test_new_ca_reissues_leaves(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path)
    first.ca_key.unlink()
    second = ensure_pki(tmp_path)
    load(second.server_cert).verify_directly_issued_by(load(second.ca_cert))
    load(second.client_cert).verify_directly_issued_by(load(second.ca_cert))


def test_contexts_complete_a_mutual_handshake(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    handshake(client_ssl_context(pki), server_ssl_context(pki))
    handshake(client_ssl_context(pki), server_ssl_context(pki), hostname="localhost")


def test_client_of_another_ca_is_refused(tmp_path: Path) -> None:
    ours, theirs = ensure_pki(tmp_path / "ours"), ensure_pki(tmp_path / "theirs")
    stranger = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    stranger.load_verify_locations(cafile=ours.ca_cert)  # trusts us, but is not trusted
    stranger.load_cert_chain(theirs.client_cert, theirs.client_key)
    with pytest.raises(ssl.SSLError):
        handshake(stranger, server_ssl_context(ours))


def test_server_certificate_cannot_act_as_a_client(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    impostor = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    impostor.load_verify_locations(cafile=pki.ca_cert)
    impostor.load_cert_chain(pki.server_cert, pki.server_key)  # serverAuth only
    with pytest.raises(ssl.SSLError):
        handshake(impostor, server_ssl_context(pki))


def test_client_without_certificate_is_refused(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.load_verify_locations(cafile=pki.ca_cert)
    with pytest.raises(ssl.SSLError):
        handshake(anonymous, server_ssl_context(pki))

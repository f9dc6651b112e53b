"""Steelyard's own certificate authority for the agent API (mutual TLS).

One CA signs two leaves: the agent's server certificate (SAN 127.0.0.1 and localhost) and the
controller's client certificate. Leaves carry an extended key usage, so that neither can stand
in for the other: OpenSSL checks the purpose of a peer certificate against its EKU.

`ensure_pki` is idempotent and safe to call from several processes at once (a lock file): the
first caller creates what is missing, later ones load it. A leaf is re-issued when it is missing,
no longer signed by the CA on disk, or close to expiry; the CA is replaced only when it is
missing or close to expiry itself (which re-issues both leaves). Every file is mode 0600.
Expiry dates are written to `expiry.json` for operators and returned in `PkiPaths`.
"""

import datetime as dt
import fcntl
import ipaddress
import json
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
# Issued a little in the past so that a peer whose clock lags slightly still accepts them.
BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class PkiPaths:
    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    ca_not_after: dt.datetime
    server_not_after: dt.datetime
    client_not_after: dt.datetime


@dataclass(frozen=True)
class _Leaf:
    cert: Path
    key: Path
    common_name: str
    usage: x509.ObjectIdentifier
    san: x509.SubjectAlternativeName | None


def ensure_pki(directory: Path, *, now: dt.datetime | None = None) -> PkiPaths:
    """Create (once) or load the CA, the agent's server leaf and the controller's client leaf."""
    now = now or dt.datetime.now(dt.UTC)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(directory / ".lock"):
        ca_cert_path, ca_key_path = directory / "ca.pem", directory / "ca.key"
        ca = _load(ca_cert_path, ca_key_path)
        if ca is None or _expiring(ca[0], now):
            ca = _new_ca(now)
            _write_pair(ca_cert_path, ca_key_path, *ca)
        server = _Leaf(
            directory / "agent.pem",
            directory / "agent.key",
            "steelyard-agent",
            ExtendedKeyUsageOID.SERVER_AUTH,
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
        )
        client = _Leaf(
            directory / "controller.pem",
            directory / "controller.key",
            "steelyard-controller",
            ExtendedKeyUsageOID.CLIENT_AUTH,
            None,
        )
        not_after = {"ca": ca[0].not_valid_after_utc}
        for label, leaf in (("server", server), ("client", client)):
            not_after[label] = _ensure_leaf(leaf, ca, now).not_valid_after_utc
        _write_private(
            directory / "expiry.json",
            json.dumps({k: v.isoformat() for k, v in not_after.items()}, indent=2).encode(),
        )
    return PkiPaths(
        dir=directory,
        ca_cert=ca_cert_path,
        ca_key=ca_key_path,
        server_cert=server.cert,
        server_key=server.key,
        client_cert=client.cert,
        client_key=client.key,
        ca_not_after=not_after["ca"],
        server_not_after=not_after["server"],
        client_not_after=not_after["client"],
    )


def server_ssl_context(pki: PkiPaths) -> ssl.SSLContext:
    """The agent's side: present the server leaf, require a client certificate from our CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(cafile=pki.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(pki: PkiPaths) -> ssl.SSLContext:
    """The controller's side: trust only our CA (not the system store), present the client leaf."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=pki.ca_cert)
    context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


def certificate_not_after(path: Path) -> dt.datetime:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc


def _ensure_leaf(
    leaf: _Leaf, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], now: dt.datetime
) -> x509.Certificate:
    found = _load(leaf.cert, leaf.key)
    if found is not None and not _expiring(found[0], now) and _issued_by(found[0], ca[0]):
        return found[0]
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(leaf.common_name, key, now, LEAF_VALIDITY)
        .issuer_name(ca[0].subject)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([leaf.usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key()), critical=False
        )
    )
    if leaf.san is not None:
        builder = builder.add_extension(leaf.san, critical=False)
    cert = builder.sign(ca[1], hashes.SHA256())
    _write_pair(leaf.cert, leaf.key, cert, key)
    return cert


def _new_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder("Steelyard CA", key, now, CA_VALIDITY)
        .issuer_name(_name("Steelyard CA"))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _builder(
    common_name: str, key: ec.EllipticCurvePrivateKey, now: dt.datetime, validity: dt.timedelta
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Steelyard"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _expiring(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_after_utc - now < RENEW_BEFORE


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _load(
    cert_path: Path, key_path: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """A certificate and its key, or None when either is missing, unreadable or mismatched."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    return cert, key


def _write_pair(
    cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    """Write via a 0600 temporary file and rename: never readable by others, never half-written."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _locked:
    """An exclusive flock on `path` for the duration of a `with` block."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)

"""Secrets of the TLS secret store (`/v2/steelyard/secrets`): request and response bodies, and
`parse_secret`, which checks an upload and turns it into the PEM file an appliance reads.

Three types, told apart by content:

    certificate   a certificate, its private key and any intermediates (PEM bundle or PKCS#12)
    ca            CA certificates only (client authentication, member verification)
    crl           certificate revocation lists only

The stored material is rebuilt from the parsed objects (leaf, intermediates, unencrypted
PKCS#8 key; or certificates; or CRLs), never the uploaded text: nothing a tenant wrote besides
DER structures reaches an appliance. Responses carry what the certificates say (subject, SANs,
expiry, fingerprint), never key material.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pydantic import StringConstraints, model_validator

from steelyard.model.fields import Body, Out, ProjectId, Text, Timestamp

MAX_PEM = 256 * 1024  # a bundle with a long chain is a few KiB; CA bundles can be larger
MAX_PKCS12 = 256 * 1024
MAX_CERTIFICATES = 200
MIN_RSA_BITS = 2048  # OpenSSL's default security level refuses smaller keys
EC_CURVES = ("secp256r1", "secp384r1", "secp521r1")

_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,40})-----")
_KEY_BLOCKS = {b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"ENCRYPTED PRIVATE KEY"}
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class SecretType(StrEnum):
    CERTIFICATE = "certificate"
    CA = "ca"
    CRL = "crl"


class InvalidSecret(ValueError):
    """The upload is not a usable secret; the message says why (shown to the tenant)."""


Pem = Annotated[str, StringConstraints(max_length=MAX_PEM)]
Pkcs12 = Annotated[str, StringConstraints(max_length=MAX_PKCS12 * 4 // 3 + 4)]
Passphrase = Annotated[str, StringConstraints(max_length=1024)]


class _Payload(Body):
    pem: Pem | None = None  # certificate + key + intermediates, or CA certificates, or CRLs
    pkcs12: Pkcs12 | None = None  # base64 of a PKCS#12 file (certificate, key, chain)
    passphrase: Passphrase | None = None  # of the PKCS#12 file or an encrypted PEM key
    # Optional: refuse the upload unless its content is of this type.
    type: SecretType | None = None

    def _one_payload(self, required: bool) -> None:
        given = [name for name in ("pem", "pkcs12") if getattr(self, name) is not None]
        if len(given) > 1 or (required and not given):
            raise ValueError("give the secret as either pem or pkcs12")
        if self.passphrase is not None and not given:
            raise ValueError("a passphrase needs pem or pkcs12")


class SecretCreate(_Payload):
    name: Text | None = None
    project_id: ProjectId | None = None  # an admin acting for a project

    @model_validator(mode="after")
    def _payload(self) -> Self:
        self._one_payload(required=True)
        return self


class SecretCreateRoot(Body):
    secret: SecretCreate


class SecretUpdate(_Payload):
    """A new name, or new content of the same type (certificate rotation): every listener and
    pool that refers to the secret is re-applied with it."""

    name: Text | None = None

    @model_validator(mode="after")
    def _payload(self) -> Self:
        self._one_payload(required=False)
        return self


class SecretUpdateRoot(Body):
    secret: SecretUpdate


class SecretOut(Out):
    id: str
    name: str
    project_id: str
    type: SecretType
    secret_ref: str  # what *_container_ref attributes take
    subject: str | None  # the certificate's (first certificate's for a CA bundle)
    issuer: str | None
    subject_alt_names: list[str]
    not_before: Timestamp | None
    not_after: Timestamp | None  # a CRL's next update
    fingerprint_sha256: str | None  # of the certificate (DER), hex
    certificates: int  # in the stored bundle (leaf and intermediates, or CA certificates)
    created_at: Timestamp
    updated_at: Timestamp | None


@dataclass(frozen=True)
class ParsedSecret:
    type: SecretType
    material: str  # the PEM file an appliance reads
    subject: str | None
    issuer: str | None
    subject_alt_names: tuple[str, ...]
    not_before: datetime | None  # naive UTC, as the database stores times
    not_after: datetime | None
    fingerprint_sha256: str | None
    certificates: int


@dataclass(frozen=True)
class SecretMaterial:
    """A decrypted secret, as the reconciler hands it to the renderer (`tls_files`)."""

    secret_id: str
    version: str  # of the content; names the appliance's file
    pem: str


def parse_secret(
    pem: str | None,
    pkcs12_b64: str | None,
    passphrase: str | None,
    now: datetime,
    expected: SecretType | None = None,
) -> ParsedSecret:
    """Check an upload and build its stored form; InvalidSecret says what is wrong.

    `now` is naive UTC. Expired certificates and CRLs past their next update are refused:
    HAProxy would load them, and every handshake would then fail.
    """
    password = passphrase.encode() if passphrase is not None else None
    if pkcs12_b64 is not None:
        certs, keys, crls = _from_pkcs12(pkcs12_b64, password)
    elif pem is not None:
        certs, keys, crls = _from_pem(pem.encode(), password)
    else:
        raise InvalidSecret("the secret has no content")
    if keys:
        parsed = _certificate(certs, keys, crls, now)
    elif certs:
        parsed = _ca(certs, crls, now)
    elif crls:
        parsed = _crl(crls, now)
    else:
        raise InvalidSecret("no certificate, key or CRL found")
    if expected is not None and parsed.type is not expected:
        raise InvalidSecret(f"expected a {expected.value} secret, got a {parsed.type.value}")
    return parsed


def _from_pem(
    data: bytes, password: bytes | None
) -> tuple[list[x509.Certificate], list[PrivateKey], list[x509.CertificateRevocationList]]:
    certs: list[x509.Certificate] = []
    keys: list[PrivateKey] = []
    crls: list[x509.CertificateRevocationList] = []
    blocks = _pem_blocks(data)
    if not blocks:
        raise InvalidSecret("not PEM: no -----BEGIN ...----- block found")
    for label, text in blocks:
        try:
            if label == b"CERTIFICATE":
                certs.append(x509.load_pem_x509_certificate(text))
            elif label in _KEY_BLOCKS:
                keys.append(_key(serialization.load_pem_private_key(text, password)))
            elif label == b"X509 CRL":
                crls.append(x509.load_pem_x509_crl(text))
            else:
                raise InvalidSecret(f"unsupported PEM block {label.decode()!r}")
        except TypeError as exc:  # a password for an unencrypted key, or none for an encrypted one
            raise InvalidSecret(f"private key: {exc}") from None
        except (ValueError, UnsupportedAlgorithm) as exc:
            if isinstance(exc, InvalidSecret):
                raise
            what = label.decode().lower()
            if label == b"ENCRYPTED PRIVATE KEY":
                raise InvalidSecret(f"could not decrypt the {what} (wrong passphrase?)") from None
            raise InvalidSecret(f"invalid {what}: {_short(exc)}") from None
    return certs, keys, crls


def _pem_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(label, text) of each PEM block, in one pass over the lines (text around the blocks,
    such as OpenSSL's "Bag Attributes", is ignored). A block without its END line, or too many
    blocks, is refused: a regular expression would take quadratic time on such input."""
    blocks: list[tuple[bytes, bytes]] = []
    label: bytes | None = None
    lines: list[bytes] = []
    for line in data.splitlines():
        text = line.strip()
        if label is None:
            begin = _BEGIN.fullmatch(text)
            if begin is not None:
                label, lines = begin.group(1), [text]
            continue
        lines.append(text)
        if text == b"-----END " + label + b"-----":
            blocks.append((label, b"\n".join(lines) + b"\n"))
            label = None
            if len(blocks) > MAX_CERTIFICATES + 1:
                raise InvalidSecret(f"too many PEM blocks (at most {MAX_CERTIFICATES + 1})")
        elif text.startswith(b"-----"):
            raise InvalidSecret(f"the PEM block {label.decode()!r} has no END line")
    if label is not None:
        raise InvalidSecret(f"the PEM block {label.decode()!r} has no END line")
    return blocks


def _from_pkcs12(
    text: str, password: bytes | None
) -> tuple[list[x509.Certificate], list[PrivateKey], list[x509.CertificateRevocationList]]:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("pkcs12 must be base64") from None
    if len(data) > MAX_PKCS12:
        raise InvalidSecret(f"pkcs12 is larger than {MAX_PKCS12} bytes")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidSecret("not a PKCS#12 file, or a wrong passphrase") from None
    if key is None or cert is None:
        raise InvalidSecret("the PKCS#12 file must hold a certificate and its private key")
    return [cert, *extra], [_key(key)], []


def _key(key: object) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidSecret(f"RSA keys need at least {MIN_RSA_BITS} bits")
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in EC_CURVES:
            raise InvalidSecret(f"EC keys must use one of {', '.join(EC_CURVES)}")
        return key
    raise InvalidSecret("only RSA and EC private keys are supported")


def _certificate(
    certs: list[x509.Certificate],
    keys: list[PrivateKey],
    crls: list[x509.CertificateRevocationList],
    now: datetime,
) -> ParsedSecret:
    if len(keys) > 1:
        raise InvalidSecret("a certificate secret holds exactly one private key")
    if crls:
        raise InvalidSecret("a certificate secret cannot hold a CRL")
    if not certs:
        raise InvalidSecret("a private key needs its certificate")
    key = keys[0]
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    matching = [c for c in certs if _spki(c) == public]
    if not matching:
        raise InvalidSecret("the private key does not match the certificate")
    leaf = matching[0]
    chain = [c for c in certs if c is not leaf]
    _check_dates([leaf, *chain], now)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    material = "".join(_pem(c) for c in [leaf, *chain]) + key_pem
    return _described(SecretType.CERTIFICATE, material, leaf, len(certs))


def _ca(
    certs: list[x509.Certificate], crls: list[x509.CertificateRevocationList], now: datetime
) -> ParsedSecret:
    if crls:
        raise InvalidSecret("upload CA certificates and CRLs as separate secrets")
    if len(certs) > MAX_CERTIFICATES:
        raise InvalidSecret(f"too many certificates (at most {MAX_CERTIFICATES})")
    _check_dates(certs, now)
    return _described(SecretType.CA, "".join(_pem(c) for c in certs), certs[0], len(certs))


def _crl(crls: list[x509.CertificateRevocationList], now: datetime) -> ParsedSecret:
    for crl in crls:
        next_update = crl.next_update_utc
        if next_update is not None and _naive(next_update) < now:
            raise InvalidSecret(f"the CRL of {crl.issuer.rfc4514_string()} has expired")
    updates = [_naive(c.next_update_utc) for c in crls if c.next_update_utc is not None]
    material = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in crls)
    return ParsedSecret(
        type=SecretType.CRL,
        material=material,
        subject=None,
        issuer=crls[0].issuer.rfc4514_string(),
        subject_alt_names=(),
        not_before=_naive(crls[0].last_update_utc),
        not_after=min(updates) if updates else None,
        fingerprint_sha256=None,
        certificates=0,
    )


def _check_dates(certs: list[x509.Certificate], now: datetime) -> None:
    for cert in certs:
        if _naive(cert.not_valid_after_utc) < now:
            raise InvalidSecret(
                f"the certificate {cert.subject.rfc4514_string()} expired on "
                f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC"
            )


def _described(kind: SecretType, material: str, cert: x509.Certificate, count: int) -> ParsedSecret:
    return ParsedSecret(
        type=kind,
        material=material,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        subject_alt_names=_sans(cert),
        not_before=_naive(cert.not_valid_before_utc),
        not_after=_naive(cert.not_valid_after_utc),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        certificates=count,
    )


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names = extension.value.get_values_for_type(x509.DNSName)
    addresses = [str(a) for a in extension.value.get_values_for_type(x509.IPAddress)]
    return tuple(names + addresses)


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]

"""Test certificates made with `cryptography`: a CA, leaf certificates it signs, CRLs, PKCS#12.

Everything is generated in memory when a test asks for it (no fixtures on disk that expire).
Keys are EC P-256 unless RSA is asked for: fast to make, and accepted by TLS 1.2 and 1.3 with
HAProxy's default ciphers.
"""

import datetime
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from steelyard.model.secret import SecretMaterial, parse_secret
from steelyard.model.spec import LoadBalancerSpec, TlsFile
from steelyard.render.haproxy_tls import tls_files

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
NOW = datetime.datetime.now(datetime.UTC)


def new_key(rsa_bits: int | None = None) -> PrivateKey:
    if rsa_bits is not None:
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey, passphrase: bytes | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if passphrase is not None:
        encryption = serialization.BestAvailableEncryption(passphrase)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Leaf:
    """A certificate with its key and the chain up to (not including) the root."""

    cert: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)

    @property
    def cert_pem(self) -> str:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)

    def bundle(self) -> str:
        """Certificate, intermediates, then key: the PEM bundle the secret store takes."""
        return self.cert_pem + "".join(cert_pem(c) for c in self.chain) + self.key_pem

    def pkcs12(self, passphrase: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
        if passphrase is not None:
            encryption = serialization.BestAvailableEncryption(passphrase)
        return pkcs12.serialize_key_and_certificates(
            b"test", self.key, self.cert, self.chain or None, encryption
        )


class TestCA:
    """A root CA (or an intermediate, see `intermediate`) that signs leaves and CRLs."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, common_name: str = "Steelyard Test CA", parent: "TestCA | None" = None
    ) -> None:
        self.key: PrivateKey = new_key()
        self.parent = parent
        self.cert: x509.Certificate
        issuer_name = parent.cert.subject if parent else _name(common_name)
        signer = parent.key if parent else self.key
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(issuer_name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
        )
        self.cert = builder.sign(signer, hashes.SHA256())

    @property
    def cert_pem(self) -> str:
        return cert_pem(self.cert)

    def chain(self) -> list[x509.Certificate]:
        """This CA and its parents below the root (what a leaf's bundle carries)."""
        if self.parent is None:
            return []
        return [self.cert, *self.parent.chain()]

    def intermediate(self, common_name: str = "Steelyard Test Intermediate") -> "TestCA":
        return TestCA(common_name, parent=self)

    def issue(
        self,
        common_name: str,
        sans: list[str] | None = None,
        *,
        client: bool = False,
        days: int = 30,
        not_before_days: int = -1,
        rsa_bits: int | None = None,
        key: PrivateKey | None = None,
    ) -> Leaf:
        """A leaf for `common_name` (server, or client with `client=True`); DNS and IP SANs."""
        leaf_key = key or new_key(rsa_bits)
        names: list[x509.GeneralName] = []
        for san in sans if sans is not None else [common_name]:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + datetime.timedelta(days=not_before_days))
            .not_valid_after(NOW + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return Leaf(builder.sign(self.key, hashes.SHA256()), leaf_key, self.chain())

    def crl(self, revoked: list[x509.Certificate] | None = None) -> str:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(NOW - datetime.timedelta(days=1))
            .next_update(NOW + datetime.timedelta(days=30))
        )
        for cert in revoked or []:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(NOW - datetime.timedelta(hours=1))
                .build()
            )
        return (
            builder.sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )


def materials_for(spec: LoadBalancerSpec) -> dict[str, SecretMaterial]:
    """A fresh secret for every secret id a render spec names, of the kind its place needs:
    certificates (server or client) from one CA, that CA for `client_ca`/`ca`, its CRL for
    `client_crl`/`crl`. Parsed like an upload, so the files are what an appliance would get."""
    ca = TestCA()
    kinds: dict[str, str] = {}
    for listener in spec.listeners:
        if listener.tls is not None:
            kinds.update((ref.secret_id, "cert") for ref in listener.tls.certificates)
            kinds.update(_roles(ca=listener.tls.client_ca, crl=listener.tls.client_crl))
    for pool in spec.pools:
        if pool.tls is not None:
            kinds.update(_roles(cert=pool.tls.client_certificate, ca=pool.tls.ca, crl=pool.tls.crl))
    versions = _versions(spec)
    materials = {}
    for number, (secret_id, kind) in enumerate(sorted(kinds.items())):
        if kind == "cert":
            pem = ca.issue(f"site{number}.example.com", rsa_bits=2048).bundle()
        else:
            pem = ca.cert_pem if kind == "ca" else ca.crl()
        parsed = parse_secret(pem, None, None, NOW.replace(tzinfo=None))
        materials[secret_id] = SecretMaterial(secret_id, versions[secret_id], parsed.material)
    return materials


def _roles(**refs: TlsFile | None) -> list[tuple[str, str]]:
    return [(ref.secret_id, kind) for kind, ref in refs.items() if ref is not None]


def _versions(spec: LoadBalancerSpec) -> dict[str, str]:
    refs: list[TlsFile] = []
    for listener in spec.listeners:
        if listener.tls is not None:
            tls = listener.tls
            refs += [*tls.certificates, *(r for r in (tls.client_ca, tls.client_crl) if r)]
    for pool in spec.pools:
        if pool.tls is not None:
            own = pool.tls
            refs += [r for r in (own.client_certificate, own.ca, own.crl) if r is not None]
    return {ref.secret_id: ref.version for ref in refs}


def write_tls_files(spec: LoadBalancerSpec, tls_dir: Path) -> dict[str, str]:
    """The files a config for `spec` names, written as the agent would (0600)."""
    files = tls_files(spec, materials_for(spec), str(tls_dir))
    tls_dir.mkdir(mode=0o700, exist_ok=True)
    for name, text in files.items():
        (tls_dir / name).write_text(text)
        (tls_dir / name).chmod(0o600)
    return files

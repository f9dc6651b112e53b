"""TLS in haproxy.cfg (pure): bind options of TERMINATED_HTTPS frontends, server options of
re-encrypting pools, and the files both name.

Files live in the appliance's TLS directory (`RuntimePaths.tls_dir`), written by the agent
before `haproxy -c` (see agent/appliance.py):

    <secret id>-<version>.pem       a secret's PEM: certificate, intermediates and key; or CA
                                    certificates; or CRLs (model/secret.py builds them)
    <listener id>-<digest>.crtlist  a TERMINATED_HTTPS listener's certificates, one path per
                                    line, the default certificate first

Names carry the content's version (a crt-list the digest of its text), so new content is a
new name: the config changes with every rotation (and reloads), and until the new config is
in force the old files stay where the old one expects them. HAProxy takes each certificate's
SNI names from its subject and SANs; the first line of a crt-list is the default certificate.

Nothing from a tenant is written as text: file names are ids and hex versions, versions and
ALPN names come from fixed lists, ciphers are checked against OpenSSL's cipher-list syntax.
"""

import hashlib
import re
from collections.abc import Mapping

from steelyard.model.enums import ClientAuthentication, ListenerProtocol
from steelyard.model.secret import SecretMaterial
from steelyard.model.spec import (
    ListenerSpec,
    ListenerTlsSpec,
    LoadBalancerSpec,
    PoolTlsSpec,
    TlsFile,
)
from steelyard.render import validate as v
from steelyard.render.errors import RenderError

# Octavia's version names -> HAProxy's ssl-min-ver/ssl-max-ver names, oldest first.
_VERSIONS = {
    "SSLv3": "SSLv3",
    "TLSv1": "TLSv1.0",
    "TLSv1.1": "TLSv1.1",
    "TLSv1.2": "TLSv1.2",
    "TLSv1.3": "TLSv1.3",
}
_ALPN = ("h2", "http/1.1", "http/1.0")
_FILE_VERSION = re.compile(r"[0-9a-f]{16,64}")
_CIPHER_WORD = r"[A-Za-z0-9!+@=._-]{1,128}"
_CIPHERS = re.compile(rf"{_CIPHER_WORD}(?::{_CIPHER_WORD})*")
MAX_CIPHERS = 2048
MAX_HSTS_AGE = 2**31 - 1
_VERIFY = {ClientAuthentication.OPTIONAL: "optional", ClientAuthentication.MANDATORY: "required"}
# insert_headers of TERMINATED_HTTPS listeners (Octavia's SUPPORTED_SSL_HEADERS), in output
# order: what HAProxy knows of the client's certificate, as request headers to the members.
SSL_HEADER_LINES = {
    "X-SSL-Client-Verify": "http-request set-header X-SSL-Client-Verify %[ssl_c_verify]",
    "X-SSL-Client-Has-Cert": "http-request set-header X-SSL-Client-Has-Cert %[ssl_c_used]",
    "X-SSL-Client-DN": "http-request set-header X-SSL-Client-DN %[ssl_c_s_dn]",
    "X-SSL-Client-CN": "http-request set-header X-SSL-Client-CN %[ssl_c_s_dn(cn)]",
    "X-SSL-Issuer": "http-request set-header X-SSL-Issuer %[ssl_c_i_dn]",
    "X-SSL-Client-SHA1": "http-request set-header X-SSL-Client-SHA1 %[ssl_c_sha1,hex]",
    "X-SSL-Client-Not-Before": (
        "http-request set-header X-SSL-Client-Not-Before %[ssl_c_notbefore]"
    ),
    "X-SSL-Client-Not-After": "http-request set-header X-SSL-Client-Not-After %[ssl_c_notafter]",
}


def tls_directory(value: object) -> str:
    """The appliance's TLS directory, required as soon as a config names a TLS file."""
    if value is None:
        raise RenderError("paths.tls_dir is needed to render TLS listeners or pools")
    return v.absolute_path(value, "paths.tls_dir")


def file_name(ref: object, field: str) -> str:
    if not isinstance(ref, TlsFile):
        raise RenderError(f"{field} must be a TlsFile, got {v.describe(ref)}")
    secret_id = v.uuid(ref.secret_id, f"{field}.secret_id").lower()
    if not isinstance(ref.version, str) or not _FILE_VERSION.fullmatch(ref.version):
        raise RenderError(f"{field}.version must be hex, got {v.describe(ref.version)}")
    return f"{secret_id}-{ref.version}.pem"


def crt_list(listener_id: str, tls: ListenerTlsSpec, directory: str) -> tuple[str, str]:
    """(file name, text) of a listener's crt-list."""
    if not isinstance(tls.certificates, tuple | list) or not tls.certificates:
        raise RenderError(f"listener {listener_id}: TLS needs at least one certificate")
    paths = [
        f"{directory}/{file_name(ref, 'listener.tls.certificates')}" for ref in tls.certificates
    ]
    if len(set(paths)) != len(paths):
        raise RenderError(f"listener {listener_id}: a certificate is listed twice")
    text = "".join(f"{path}\n" for path in paths)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{listener_id.lower()}-{digest}.crtlist", text


def frontend_mode(listener: ListenerSpec) -> str:
    protocol = v.member_of(ListenerProtocol, listener.protocol, "listener.protocol")
    if protocol in (ListenerProtocol.HTTP, ListenerProtocol.TERMINATED_HTTPS):
        return "http"
    return "tcp"


def listener_tls(listener: ListenerSpec) -> ListenerTlsSpec | None:
    """The listener's TLS termination; its presence must match its protocol."""
    protocol = v.member_of(ListenerProtocol, listener.protocol, "listener.protocol")
    terminated = protocol is ListenerProtocol.TERMINATED_HTTPS
    tls = listener.tls
    if tls is not None and not isinstance(tls, ListenerTlsSpec):
        raise RenderError(f"listener.tls: {v.describe(tls)}")
    if terminated and tls is None:
        raise RenderError(f"TERMINATED_HTTPS listener {listener.id} has no certificates")
    if not terminated and tls is not None:
        raise RenderError(f"listener {listener.id}: TLS settings need TERMINATED_HTTPS")
    return tls


def bind_tokens(listener_id: str, tls: ListenerTlsSpec, directory: str) -> list[str]:
    """What follows `bind <address>:<port>` on a TERMINATED_HTTPS frontend."""
    name, _ = crt_list(listener_id, tls, directory)
    tokens = ["ssl", "crt-list", f"{directory}/{name}"]
    auth = v.member_of(
        ClientAuthentication, tls.client_authentication, "listener.tls.client_authentication"
    )
    if auth is not ClientAuthentication.NONE:
        if tls.client_ca is None:
            raise RenderError(f"listener {listener_id}: client authentication needs a CA")
        ca = file_name(tls.client_ca, "listener.tls.client_ca")
        tokens += ["ca-file", f"{directory}/{ca}", "verify", _VERIFY[auth]]
        if tls.client_crl is not None:
            crl = file_name(tls.client_crl, "listener.tls.client_crl")
            tokens += ["crl-file", f"{directory}/{crl}"]
    tokens += _protocol_tokens(tls.tls_versions, tls.ciphers, "listener.tls")
    if tls.alpn_protocols:
        tokens += ["alpn", _alpn(tls.alpn_protocols, "listener.tls.alpn_protocols")]
    return tokens


def hsts_line(tls: ListenerTlsSpec) -> str | None:
    """The Strict-Transport-Security response header (RFC 6797; directives joined by ";"
    without spaces, so the value needs no quoting)."""
    if tls.hsts_max_age is None:
        if v.boolean(tls.hsts_include_subdomains, "listener.tls.hsts_include_subdomains") or (
            v.boolean(tls.hsts_preload, "listener.tls.hsts_preload")
        ):
            raise RenderError("hsts_include_subdomains and hsts_preload need hsts_max_age")
        return None
    value = f"max-age={v.integer(tls.hsts_max_age, 'listener.tls.hsts_max_age', 0, MAX_HSTS_AGE)}"
    if v.boolean(tls.hsts_include_subdomains, "listener.tls.hsts_include_subdomains"):
        value += ";includeSubDomains"
    if v.boolean(tls.hsts_preload, "listener.tls.hsts_preload"):
        value += ";preload"
    return f"http-response set-header Strict-Transport-Security {value}"


def server_tokens(tls: PoolTlsSpec, directory: str, http_mode: bool) -> list[str]:
    """What a re-encrypting pool adds to each `server` line."""
    if not isinstance(tls, PoolTlsSpec):
        raise RenderError(f"pool.tls: {v.describe(tls)}")
    tokens = ["ssl"]
    if tls.ca is not None:
        tokens += [
            "verify",
            "required",
            "ca-file",
            f"{directory}/{file_name(tls.ca, 'pool.tls.ca')}",
        ]
        if tls.crl is not None:
            tokens += ["crl-file", f"{directory}/{file_name(tls.crl, 'pool.tls.crl')}"]
    else:
        if tls.crl is not None:
            raise RenderError("pool.tls.crl needs pool.tls.ca")
        # Octavia's behaviour without a CA: encrypted, but the member is not authenticated.
        tokens += ["verify", "none"]
    if tls.client_certificate is not None:
        tokens += ["crt", f"{directory}/{file_name(tls.client_certificate, 'pool.tls.client')}"]
    tokens += _protocol_tokens(tls.tls_versions, tls.ciphers, "pool.tls")
    if tls.alpn_protocols and http_mode:
        # Only an http-mode backend can speak the protocol a member picks (h2 included).
        tokens += ["alpn", _alpn(tls.alpn_protocols, "pool.tls.alpn_protocols")]
    return tokens


def tls_files(
    spec: LoadBalancerSpec, materials: Mapping[str, SecretMaterial], tls_dir: str | None
) -> dict[str, str]:
    """Every file the rendered config names (file name -> content), from the decrypted
    secrets by id. A missing secret, or one whose version is not the spec's, is an error: the
    config would name a file with other content."""
    files: dict[str, str] = {}
    wanted: list[tuple[TlsFile, str]] = []
    for listener in spec.listeners:
        tls = listener_tls(listener)
        if tls is None:
            continue
        directory = tls_directory(tls_dir)
        name, text = crt_list(v.uuid(listener.id, "listener.id"), tls, directory)
        files[name] = text
        wanted += [(ref, "listener.tls.certificates") for ref in tls.certificates]
        wanted += [(ref, "listener.tls") for ref in (tls.client_ca, tls.client_crl) if ref]
    for pool in spec.pools:
        if pool.tls is not None:
            refs = (pool.tls.client_certificate, pool.tls.ca, pool.tls.crl)
            wanted += [(ref, "pool.tls") for ref in refs if ref is not None]
    for ref, field in wanted:
        name = file_name(ref, field)
        material = materials.get(ref.secret_id.lower())
        if material is None:
            raise RenderError(f"secret {ref.secret_id} is not available")
        if material.version != ref.version:
            raise RenderError(
                f"secret {ref.secret_id} changed while the config was rendered; retry"
            )
        files[name] = material.pem
    return files


def _protocol_tokens(versions: object, ciphers: object, field: str) -> list[str]:
    if not isinstance(versions, tuple | list) or not versions:
        raise RenderError(f"{field}.tls_versions must be a non-empty sequence")
    known = list(_VERSIONS)
    indexes = []
    for version in versions:
        if version not in _VERSIONS:
            raise RenderError(f"{field}.tls_versions: unknown version {v.describe(version)}")
        indexes.append(known.index(version))
    low, high = min(indexes), max(indexes)
    if sorted(set(indexes)) != list(range(low, high + 1)):
        raise RenderError(f"{field}.tls_versions must be a range without gaps")
    tokens = ["ssl-min-ver", _VERSIONS[known[low]], "ssl-max-ver", _VERSIONS[known[high]]]
    if ciphers is not None:
        if not isinstance(ciphers, str) or len(ciphers) > MAX_CIPHERS:
            raise RenderError(f"{field}.ciphers must be a cipher string, got {v.describe(ciphers)}")
        if not _CIPHERS.fullmatch(ciphers):
            raise RenderError(f"{field}.ciphers is not a cipher list: {v.describe(ciphers)}")
        # TLS 1.3 suites are configured apart from the older cipher list (OpenSSL 1.1.1+).
        words = ciphers.split(":")
        suites = [word for word in words if word.startswith("TLS_")]
        older = [word for word in words if not word.startswith("TLS_")]
        if older:
            tokens += ["ciphers", ":".join(older)]
        if suites:
            tokens += ["ciphersuites", ":".join(suites)]
    return tokens


def _alpn(protocols: object, field: str) -> str:
    if not isinstance(protocols, tuple | list) or not protocols:
        raise RenderError(f"{field} must be a non-empty sequence")
    for protocol in protocols:
        if protocol not in _ALPN:
            raise RenderError(f"{field}: unknown protocol {v.describe(protocol)}")
    if len(set(protocols)) != len(protocols):
        raise RenderError(f"{field} lists a protocol twice")
    return ",".join(protocols)

"""TLS attributes of listeners and pools, with Octavia's names, defaults and rules.

A listener or pool keeps its TLS attributes as a `ListenerTls` / `PoolTls`: the request bodies
carry them (create: as given; update: merged into the stored ones, null resetting an attribute
to its default), and `settle_listener_tls` / `settle_pool_tls` check the merged whole and fill
Octavia's defaults. Certificate references (`*_container_ref`) are checked against the secret
store by `db/secrets.py`; here they only have to look like references.

References are the `secret_ref` URLs of Steelyard's secret store
(`<API>/v2/steelyard/secrets/<id>`) or the bare secret id. The text a client sent is stored
and returned unchanged (Terraform compares it with its own); only the id in it counts.
"""

import re
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from steelyard.model.enums import ClientAuthentication, ListenerProtocol, PoolProtocol
from steelyard.model.fields import MAX_INT32, Body, Decimal, Out, matching

# Octavia's TLS_ALL_VERSIONS, oldest first; its default for new listeners and pools.
TLS_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
DEFAULT_TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
# Octavia's default_listener_ciphers / default_pool_ciphers (OWASP cipher string "B").
DEFAULT_CIPHERS = (
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
    "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-SHA256:DHE-RSA-AES128-SHA256:"
    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256"
)
# ECDSA certificates need ECDHE-ECDSA suites under TLS 1.2; Octavia's string has none, so
# they are added to the default (TLS 1.3 suites work with either key type).
DEFAULT_CIPHERS += ":ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
ALPN_PROTOCOLS = ("h2", "http/1.1", "http/1.0")
DEFAULT_LISTENER_ALPN = ("h2", "http/1.1", "http/1.0")
DEFAULT_POOL_ALPN = ("http/1.1", "http/1.0")
MAX_SNI = 100
MAX_CIPHERS = 2048  # Octavia's tls_ciphers max_length

# OpenSSL cipher-list words (names, `!`/`+`/`-` prefixes, `@STRENGTH`, `@SECLEVEL=n`) joined
# by ":" only: no spaces or commas (OpenSSL also takes them, HAProxy would split the line).
_CIPHER_WORD = r"[A-Za-z0-9!+@=._-]{1,128}"
_CIPHERS = rf"{_CIPHER_WORD}(?::{_CIPHER_WORD})*"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_VISIBLE = r"[!-~]"  # printable ASCII without space
_REF = re.compile(
    rf"(?:[A-Za-z][A-Za-z0-9+.-]*://[!-.0-~]+)?(?:/{_VISIBLE}*)?"
    rf"/v2(?:\.0)?/steelyard/secrets/({_UUID})/?|({_UUID})"
)
SECRETS_PATH = "/v2/steelyard/secrets"


def secret_id_of(ref: str) -> str | None:
    """The secret id a reference names, lower case; None when it is not one of ours."""
    match = _REF.fullmatch(ref)
    if match is None:
        return None
    return (match.group(1) or match.group(2)).lower()


def secret_ref(api_base: str, secret_id: str) -> str:
    return f"{api_base.rstrip('/')}{SECRETS_PATH}/{secret_id}"


def _reference(value: str) -> str:
    if secret_id_of(value) is None:
        raise ValueError(
            f"not a secret reference; expected {SECRETS_PATH}/<id> (or the id) from the "
            "Steelyard secret store"
        )
    return value


ContainerRef = Annotated[str, StringConstraints(max_length=255), AfterValidator(_reference)]
TlsVersion = Annotated[str, StringConstraints(max_length=32)]
TlsCiphers = Annotated[
    str,
    StringConstraints(max_length=MAX_CIPHERS),
    matching(_CIPHERS, "tls_ciphers must be OpenSSL cipher names joined by ':'"),
]
AlpnProtocol = Annotated[str, StringConstraints(max_length=32)]
HstsMaxAge = Annotated[int, Decimal, Field(ge=0, le=MAX_INT32)]


def check_tls_versions(versions: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Octavia's checks (not empty, known), and one more: HAProxy sets a minimum and a
    maximum, so the versions must form a range (TLSv1.1 and TLSv1.3 without TLSv1.2 would
    silently allow TLSv1.2). Returned oldest first, without repeats."""
    if not versions:
        raise ValueError(
            "Empty TLS version list. Either specify at least one TLS version or remove this "
            "parameter to use the default."
        )
    invalid = [v for v in versions if v not in TLS_VERSIONS]
    if invalid:
        raise ValueError("Invalid TLS versions: " + ", ".join(invalid))
    indexes = sorted({TLS_VERSIONS.index(v) for v in versions})
    if indexes != list(range(indexes[0], indexes[-1] + 1)):
        raise ValueError(
            "tls_versions must be a range without gaps (e.g. TLSv1.2, TLSv1.3): "
            + ", ".join(TLS_VERSIONS[i] for i in indexes)
        )
    return tuple(TLS_VERSIONS[i] for i in indexes)


def check_alpn_protocols(protocols: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not protocols:
        raise ValueError(
            "Empty ALPN protocol list. Either specify at least one ALPN protocol or remove "
            "this parameter to use the default."
        )
    invalid = [p for p in protocols if p not in ALPN_PROTOCOLS]
    if invalid:
        raise ValueError("Invalid ALPN protocol: " + ", ".join(invalid))
    return tuple(dict.fromkeys(protocols))  # in the client's order of preference


class _Settings(BaseModel):
    """The merged TLS attributes of one object (stored values plus a request's changes)."""

    model_config = ConfigDict(frozen=True)

    tls_versions: list[str] | None = None
    tls_ciphers: str | None = None
    alpn_protocols: list[str] | None = None

    def _settled(self, versions: tuple[str, ...], alpn: tuple[str, ...]) -> dict[str, Any]:
        """Given values checked (an empty list is an error, as in Octavia), unset ones from
        the defaults."""
        given_versions = versions if self.tls_versions is None else self.tls_versions
        given_alpn = alpn if self.alpn_protocols is None else self.alpn_protocols
        return {
            "tls_versions": list(check_tls_versions(given_versions)),
            "tls_ciphers": self.tls_ciphers or DEFAULT_CIPHERS,
            "alpn_protocols": list(check_alpn_protocols(given_alpn)),
        }


class ListenerTls(_Settings):
    default_tls_container_ref: str | None = None
    sni_container_refs: list[str] = Field(default_factory=list)
    client_authentication: ClientAuthentication = ClientAuthentication.NONE
    client_ca_tls_container_ref: str | None = None
    client_crl_container_ref: str | None = None
    hsts_max_age: int | None = None
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False

    def refs(self) -> list[str]:
        refs = [self.default_tls_container_ref, *self.sni_container_refs]
        refs += [self.client_ca_tls_container_ref, self.client_crl_container_ref]
        return [ref for ref in refs if ref]


class PoolTls(_Settings):
    tls_enabled: bool = False
    tls_container_ref: str | None = None
    ca_tls_container_ref: str | None = None
    crl_container_ref: str | None = None

    def refs(self) -> list[str]:
        refs = [self.tls_container_ref, self.ca_tls_container_ref, self.crl_container_ref]
        return [ref for ref in refs if ref]


def _given(tls: _Settings) -> list[str]:
    return [
        name for name in ("tls_versions", "tls_ciphers", "alpn_protocols") if getattr(tls, name)
    ]


def settle_listener_tls(protocol: ListenerProtocol, tls: ListenerTls) -> ListenerTls:
    """Octavia's rules for a listener's TLS attributes, then its defaults; ValueError names the
    first rule broken."""
    terminated = protocol is ListenerProtocol.TERMINATED_HTTPS
    if tls.hsts_max_age is None and (tls.hsts_include_subdomains or tls.hsts_preload):
        raise ValueError(
            "HSTS configuration options hsts_include_subdomains and hsts_preload only make "
            "sense if hsts_max_age is set as well."
        )
    if tls.hsts_max_age is not None and not terminated:
        raise ValueError(
            "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol."
        )
    certificates = tls.default_tls_container_ref or tls.sni_container_refs
    if not terminated:
        if certificates or tls.client_ca_tls_container_ref or tls.client_crl_container_ref:
            raise ValueError(
                "Certificate container references are only allowed on TERMINATED_HTTPS "
                "protocol listeners."
            )
        if tls.client_authentication is not ClientAuthentication.NONE:
            raise ValueError("client_authentication is only for TERMINATED_HTTPS listeners.")
        if given := _given(tls):
            raise ValueError(f"{', '.join(given)}: only for TERMINATED_HTTPS listeners.")
        return tls
    if not certificates:
        raise ValueError(
            "An SNI or default certificate container reference must be provided for "
            "TERMINATED_HTTPS protocol listeners."
        )
    if (
        tls.client_authentication is not ClientAuthentication.NONE
        and not tls.client_ca_tls_container_ref
    ):
        raise ValueError(
            f"Client authentication setting {tls.client_authentication.value} requires a "
            "client CA container reference."
        )
    if tls.client_crl_container_ref and not tls.client_ca_tls_container_ref:
        raise ValueError(
            "A client authentication CA reference is required to specify a client "
            "authentication revocation list."
        )
    if len(set(tls.sni_container_refs)) != len(tls.sni_container_refs):
        raise ValueError("sni_container_refs holds the same reference twice.")
    return tls.model_copy(update=tls._settled(DEFAULT_TLS_VERSIONS, DEFAULT_LISTENER_ALPN))


def settle_pool_tls(protocol: PoolProtocol, tls: PoolTls) -> PoolTls:
    """The same for a pool. TLS attributes may be set while `tls_enabled` is false (they apply
    once it is turned on); Octavia's defaults fill in when it is on."""
    if tls.crl_container_ref and not tls.ca_tls_container_ref:
        raise ValueError("A CA reference is required to specify a certificate revocation list.")
    if not tls.tls_enabled:
        if tls.tls_versions is not None:
            check_tls_versions(tls.tls_versions)
        if tls.alpn_protocols is not None:
            check_alpn_protocols(tls.alpn_protocols)
        return tls
    if protocol is PoolProtocol.HTTPS:
        raise ValueError(
            "tls_enabled is not supported for HTTPS pools: their members already receive the "
            "client's TLS unchanged (use an HTTP or TCP pool to re-encrypt)."
        )
    return tls.model_copy(update=tls._settled(DEFAULT_TLS_VERSIONS, DEFAULT_POOL_ALPN))


class ListenerTlsCreate(Body):
    """The TLS attributes of a listener create request."""

    default_tls_container_ref: ContainerRef | None = None
    sni_container_refs: Annotated[list[ContainerRef], Field(max_length=MAX_SNI)] | None = None
    client_authentication: ClientAuthentication | None = None
    client_ca_tls_container_ref: ContainerRef | None = None
    client_crl_container_ref: ContainerRef | None = None
    tls_ciphers: TlsCiphers | None = None
    tls_versions: Annotated[list[TlsVersion], Field(max_length=10)] | None = None
    alpn_protocols: Annotated[list[AlpnProtocol], Field(max_length=10)] | None = None
    hsts_max_age: HstsMaxAge | None = None
    hsts_include_subdomains: bool | None = None
    hsts_preload: bool | None = None

    def listener_tls(self) -> ListenerTls:
        return ListenerTls.model_validate(
            self.model_dump(include=set(ListenerTls.model_fields), exclude_none=True)
        )


class PoolTlsCreate(Body):
    tls_enabled: bool | None = None
    tls_container_ref: ContainerRef | None = None
    ca_tls_container_ref: ContainerRef | None = None
    crl_container_ref: ContainerRef | None = None
    tls_ciphers: TlsCiphers | None = None
    tls_versions: Annotated[list[TlsVersion], Field(max_length=10)] | None = None
    alpn_protocols: Annotated[list[AlpnProtocol], Field(max_length=10)] | None = None

    def pool_tls(self) -> PoolTls:
        return PoolTls.model_validate(
            self.model_dump(include=set(PoolTls.model_fields), exclude_none=True)
        )


# Update bodies take the same attributes (null resets one to its default); what a PUT
# changes is merged by the repositories into the stored attributes before settling.
LISTENER_TLS_DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in ListenerTls.model_fields.items()
}
POOL_TLS_DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in PoolTls.model_fields.items()
}


def stored_listener_tls(row: Any) -> ListenerTls:
    """The attributes as a listener row holds them (any object with the column names)."""
    return ListenerTls.model_validate(
        {name: getattr(row, name) for name in ListenerTls.model_fields}
    )


def stored_pool_tls(row: Any) -> PoolTls:
    return PoolTls.model_validate({name: getattr(row, name) for name in PoolTls.model_fields})


class ListenerTlsOut(Out):
    """As shown in listener responses (Octavia's fields)."""

    default_tls_container_ref: str | None = None
    sni_container_refs: list[str] = Field(default_factory=list)
    client_ca_tls_container_ref: str | None = None
    client_authentication: str = "NONE"
    client_crl_container_ref: str | None = None
    tls_ciphers: str | None = None
    tls_versions: list[str] | None = None
    alpn_protocols: list[str] | None = None
    hsts_max_age: int | None = None
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False


class PoolTlsOut(Out):
    tls_enabled: bool = False
    tls_container_ref: str | None = None
    ca_tls_container_ref: str | None = None
    crl_container_ref: str | None = None
    tls_ciphers: str | None = None
    tls_versions: list[str] | None = None
    alpn_protocols: list[str] | None = None

    @classmethod
    def of(cls, tls: PoolTls) -> Self:
        return cls.model_validate(tls.model_dump(mode="json"))

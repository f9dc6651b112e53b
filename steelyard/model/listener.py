"""Listener request and response bodies (Octavia v2 `listener`)."""

import ipaddress
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from steelyard.model.enums import HTTP_MODE_LISTENERS, ListenerProtocol
from steelyard.model.fields import (
    MAX_INT32,
    Body,
    Decimal,
    DescribedCreate,
    DescribedOut,
    DescribedUpdate,
    IdRef,
    Port,
    ProjectId,
    Uuid,
    matching,
)
from steelyard.model.l7 import MAX_POLICIES, PolicyFull, PolicySingleCreate
from steelyard.model.listener_protection import GivenProtection, check_protection
from steelyard.model.options import refusing
from steelyard.model.pool import PoolSingleCreate
from steelyard.model.protection import Protection
from steelyard.model.spec import ProtectionSpec
from steelyard.model.tls import ListenerTlsCreate, ListenerTlsOut

Protocol = Annotated[
    ListenerProtocol,
    refusing("UDP", "SCTP", "PROMETHEUS"),
]
ConnectionLimit = Annotated[int, Decimal, Field(ge=-1, le=MAX_INT32)]
TimeoutMs = Annotated[int, Decimal, Field(ge=0, le=86_400_000)]  # Octavia's MAX_TIMEOUT: one day
HeaderValue = Annotated[str, StringConstraints(max_length=255)]
InsertHeaders = Annotated[dict[HeaderValue, HeaderValue], Field(max_length=16)]

HTTP_INSERT_HEADERS = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")
# Octavia's SUPPORTED_SSL_HEADERS: the client certificate, on TERMINATED_HTTPS listeners only.
SSL_INSERT_HEADERS = (
    "X-SSL-Client-Verify",
    "X-SSL-Client-Has-Cert",
    "X-SSL-Client-DN",
    "X-SSL-Client-CN",
    "X-SSL-Issuer",
    "X-SSL-Client-SHA1",
    "X-SSL-Client-Not-Before",
    "X-SSL-Client-Not-After",
)
# allowed_cidrs (Octavia v2.12): who may connect to a listener; none given means everyone.
# Octavia sets no maximum; a thousand networks is far more than an access list needs, and
# HAProxy looks them up in a tree either way.
MAX_ALLOWED_CIDRS = 1000


def _distinct_networks(values: list[str]) -> list[str]:
    """Each item must name a network (as Octavia's CidrType: a bare address is one host, host
    bits are allowed); a network given twice, in any spelling, is kept once, as first given."""
    seen: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
    for text in values:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"Value should be a valid CIDR: {text}") from None
        seen.setdefault(network, text)
    return list(seen.values())


# Only the characters a network's text needs, so nothing else is ever stored or echoed back.
Cidr = Annotated[
    str,
    StringConstraints(max_length=49),
    matching(r"[0-9A-Fa-f.:]{2,45}(/[0-9]{1,3})?", "Value should be a valid CIDR"),
]
AllowedCidrs = Annotated[
    list[Cidr], Field(max_length=MAX_ALLOWED_CIDRS), AfterValidator(_distinct_networks)
]


def allowed_networks(cidrs: list[str]) -> tuple[str, ...]:
    """Stored allowed_cidrs as the renderer takes them: networks in normal form."""
    return tuple(str(ipaddress.ip_network(text, strict=False)) for text in cidrs)


def check_cidrs_match_vip(cidrs: list[str], vip_address: str) -> None:
    """Octavia refuses a network of the other IP version than the VIP's (it could never match)."""
    vip_version = ipaddress.ip_address(vip_address).version
    for text in cidrs:
        if ipaddress.ip_network(text, strict=False).version != vip_version:
            raise ValueError(
                f"CIDR {text} IP version incompatible with VIP {vip_address} IP version."
            )


DEFAULT_TIMEOUTS = {
    "timeout_client_data": 50000,
    "timeout_member_connect": 5000,
    "timeout_member_data": 50000,
    "timeout_tcp_inspect": 0,
}


def check_insert_headers(protocol: ListenerProtocol, headers: dict[str, str]) -> dict[str, str]:
    """X-Forwarded-* on HTTP and TERMINATED_HTTPS listeners, X-SSL-* on TERMINATED_HTTPS only,
    with "true"/"false" values (normalised)."""
    protocol = ListenerProtocol(protocol)
    if headers and protocol not in HTTP_MODE_LISTENERS:
        raise ValueError(f"insert_headers are not supported on {protocol.value} listeners")
    supported: tuple[str, ...] = HTTP_INSERT_HEADERS
    if protocol is ListenerProtocol.TERMINATED_HTTPS:
        supported += SSL_INSERT_HEADERS
    result = {}
    for name, value in headers.items():
        if name not in supported:
            raise ValueError(
                f"insert_headers: unsupported header on {protocol.value} listeners; "
                f"supported: {', '.join(supported)}"
            )
        if value.lower() not in ("true", "false"):
            raise ValueError(f'insert_headers: {name} must be "true" or "false"')
        result[name] = value.lower()
    return result


class ListenerSingleCreate(ListenerTlsCreate, DescribedCreate):
    protocol: Protocol
    protocol_port: Port
    connection_limit: ConnectionLimit = -1
    default_pool_id: Uuid | None = None
    default_pool: PoolSingleCreate | None = None
    l7policies: Annotated[list[PolicySingleCreate], Field(max_length=MAX_POLICIES)] = Field(
        default_factory=list
    )
    insert_headers: InsertHeaders = Field(default_factory=dict)
    allowed_cidrs: AllowedCidrs | None = None  # null or []: everyone
    timeout_client_data: TimeoutMs = DEFAULT_TIMEOUTS["timeout_client_data"]
    timeout_member_connect: TimeoutMs = DEFAULT_TIMEOUTS["timeout_member_connect"]
    timeout_member_data: TimeoutMs = DEFAULT_TIMEOUTS["timeout_member_data"]
    timeout_tcp_inspect: TimeoutMs = DEFAULT_TIMEOUTS["timeout_tcp_inspect"]
    protection: Protection | None = None  # Steelyard extension (issue 5); absent: defaults

    @field_validator("protection")
    @classmethod
    def _protocol_can_enforce(
        cls, value: Protection | None, info: ValidationInfo
    ) -> Protection | None:
        protocol = info.data.get("protocol")
        if protocol is not None:
            check_protection(protocol, value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.default_pool_id is not None and self.default_pool is not None:
            raise ValueError("give default_pool_id or default_pool, not both")
        self.insert_headers = check_insert_headers(self.protocol, self.insert_headers)
        return self


class ListenerCreate(ListenerSingleCreate):
    loadbalancer_id: Uuid
    project_id: ProjectId | None = None


class ListenerCreateRoot(Body):
    listener: ListenerCreate


class ListenerUpdate(ListenerTlsCreate, DescribedUpdate):
    """`protection` replaces the whole object (fields left out fall back to the defaults, they
    are not kept from before); null or {} removes it. So does `allowed_cidrs` (null or []:
    everyone)."""

    connection_limit: ConnectionLimit | None = None
    default_pool_id: Uuid | None = None
    insert_headers: InsertHeaders | None = None
    allowed_cidrs: AllowedCidrs | None = None
    timeout_client_data: TimeoutMs | None = None
    timeout_member_connect: TimeoutMs | None = None
    timeout_member_data: TimeoutMs | None = None
    timeout_tcp_inspect: TimeoutMs | None = None
    protection: Protection | None = None


class ListenerUpdateRoot(Body):
    listener: ListenerUpdate


class ListenerFull(ListenerTlsOut, DescribedOut):
    """As embedded in a fully populated load balancer (no `loadbalancers` back-reference)."""

    protocol: ListenerProtocol
    protocol_port: int
    connection_limit: int
    default_pool_id: str | None
    l7policies: list[PolicyFull] = Field(default_factory=list)  # rules expanded
    insert_headers: dict[str, str]
    timeout_client_data: int
    timeout_member_connect: int
    timeout_member_data: int
    timeout_tcp_inspect: int
    allowed_cidrs: list[str] | None = None  # as Octavia: null when everyone may connect
    # Steelyard extension: the tenant's own settings, and what applies once deployment
    # defaults and operator overrides are merged in (null: nothing is limited).
    protection: GivenProtection = None
    effective_protection: ProtectionSpec | None = None


class ListenerOut(ListenerFull):
    loadbalancers: list[IdRef]
    l7policies: list[IdRef] = Field(default_factory=list)  # type: ignore[assignment]

"""Health monitor request and response bodies (Octavia v2 `healthmonitor`).

Every attribute that ends up in haproxy.cfg has a pattern: url_path is RFC 3986 path and
query characters only, expected_codes is "200", "200,202" or "200-204", domain_name is a
host name. Names and tags are free text and never rendered.
"""

import re
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from steelyard.model.enums import HealthMonitorType, HTTPMethod
from steelyard.model.fields import (
    Body,
    Decimal,
    IdRef,
    NamedCreate,
    NamedUpdate,
    ProjectId,
    ProvisionedOut,
    Uuid,
    matching,
)
from steelyard.model.options import refusing

HTTP_TYPES = (HealthMonitorType.HTTP, HealthMonitorType.HTTPS)
HTTP_ONLY = ("http_method", "url_path", "expected_codes", "http_version", "domain_name")
HTTP_DEFAULTS: dict[str, Any] = {
    "http_method": HTTPMethod.GET,
    "url_path": "/",
    "expected_codes": "200",
}
DEFAULT_MAX_RETRIES_DOWN = 3
HTTP_VERSIONS = (1.0, 1.1)

# RFC 3986: path-abempty ["?" query]; pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_URL_PATH = rf"/(?:{_PCHAR}|/)*(?:\?(?:{_PCHAR}|[/?])*)?"
_EXPECTED_CODES = re.compile(r"^(?:\d{3}(?:,\d{3})*|\d{3}-\d{3})$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"


def _expected_codes(value: str) -> str:
    value = value.replace(" ", "")  # Octavia accepts "200, 202"
    if not _EXPECTED_CODES.fullmatch(value):
        raise ValueError('expected_codes must look like "200", "200,202" or "200-204"')
    if "-" in value:
        low, high = value.split("-")
        if int(low) > int(high):
            raise ValueError("expected_codes range must be ascending")
    return value


def _http_version(value: float) -> float:
    if value not in HTTP_VERSIONS:
        raise ValueError("http_version must be 1.0 or 1.1")
    return value


UrlPath = Annotated[
    str,
    StringConstraints(max_length=2048),
    matching(_URL_PATH, 'url_path must start with "/" and contain only RFC 3986 path characters'),
]
ExpectedCodes = Annotated[str, StringConstraints(max_length=64), AfterValidator(_expected_codes)]
DomainName = Annotated[
    str, StringConstraints(max_length=253), matching(_DOMAIN, "domain_name must be a host name")
]
HttpVersion = Annotated[float, AfterValidator(_http_version)]
Seconds = Annotated[int, Decimal, Field(ge=1, le=86400)]
Retries = Annotated[int, Decimal, Field(ge=1, le=10)]
MonitorType = Annotated[HealthMonitorType, refusing("PING", "UDP-CONNECT", "SCTP")]


def check_http_fields(hm_type: HealthMonitorType, values: dict[str, Any]) -> None:
    """Type-dependent rules (POST, and PUT after merging with the stored monitor)."""
    if hm_type not in HTTP_TYPES:
        given = [name for name in HTTP_ONLY if values.get(name) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} may only be set for HTTP and HTTPS health monitors"
            )
    if values.get("domain_name") is not None and values.get("http_version") != 1.1:
        raise ValueError("domain_name requires http_version 1.1")


class _Checks(Body):
    delay: Seconds | None = None
    timeout: Seconds | None = None
    max_retries: Retries | None = None
    max_retries_down: Retries | None = None
    http_method: HTTPMethod | None = None
    url_path: UrlPath | None = None
    expected_codes: ExpectedCodes | None = None
    http_version: HttpVersion | None = None
    domain_name: DomainName | None = None


class HealthMonitorSingleCreate(_Checks, NamedCreate):
    type: MonitorType
    delay: Seconds
    timeout: Seconds
    max_retries: Retries
    max_retries_down: Retries = DEFAULT_MAX_RETRIES_DOWN

    @model_validator(mode="after")
    def _by_type(self) -> Self:
        check_http_fields(self.type, self.__dict__)
        return self


class HealthMonitorCreate(HealthMonitorSingleCreate):
    pool_id: Uuid
    project_id: ProjectId | None = None


class HealthMonitorCreateRoot(Body):
    healthmonitor: HealthMonitorCreate


class HealthMonitorUpdate(_Checks, NamedUpdate):
    """The type-dependent rules are checked after merging with the stored monitor."""


class HealthMonitorUpdateRoot(Body):
    healthmonitor: HealthMonitorUpdate


class HealthMonitorFull(ProvisionedOut):
    """As embedded in a fully populated load balancer (no `pools` back-reference)."""

    type: HealthMonitorType
    delay: int
    timeout: int
    max_retries: int
    max_retries_down: int
    http_method: str | None
    url_path: str | None
    expected_codes: str | None
    http_version: float | None
    domain_name: str | None


class HealthMonitorOut(HealthMonitorFull):
    pools: list[IdRef]

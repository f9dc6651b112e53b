"""Pool and session persistence request and response bodies (Octavia v2 `pool`)."""

import ipaddress
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from steelyard.model.enums import LBAlgorithm, PoolProtocol, SessionPersistenceType
from steelyard.model.fields import (
    Body,
    Decimal,
    DescribedCreate,
    DescribedOut,
    DescribedUpdate,
    IdRef,
    Out,
    ProjectId,
    Uuid,
    matching,
)
from steelyard.model.healthmonitor import HealthMonitorFull, HealthMonitorSingleCreate
from steelyard.model.member import MemberOut, MemberSingleCreate
from steelyard.model.options import refusing
from steelyard.model.tls import PoolTlsCreate, PoolTlsOut

# RFC 6265 cookie-name = token (RFC 2616): visible ASCII except separators
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"


def _netmask(value: str) -> str:
    try:
        ipaddress.ip_network(f"0.0.0.0/{value}" if "." in value else f"::/{value}")
    except ValueError:
        raise ValueError(
            "persistence_granularity must be a netmask such as 255.255.255.0"
        ) from None
    return value


CookieName = Annotated[
    str, StringConstraints(max_length=255), matching(_TOKEN, 'Supplied "cookie_name" is invalid.')
]
Netmask = Annotated[str, StringConstraints(max_length=64), AfterValidator(_netmask)]
Protocol = Annotated[PoolProtocol, refusing("UDP", "SCTP")]
Algorithm = LBAlgorithm


class SessionPersistenceUpdate(Body):
    """On PUT: merged with the stored value, then checked as a whole."""

    type: SessionPersistenceType | None = None
    cookie_name: CookieName | None = None
    persistence_timeout: Annotated[int, Decimal, Field(ge=1, le=86400)] | None = None
    persistence_granularity: Netmask | None = None


class SessionPersistence(SessionPersistenceUpdate):
    type: SessionPersistenceType

    @model_validator(mode="after")
    def _by_type(self) -> Self:
        app_cookie = self.type == SessionPersistenceType.APP_COOKIE
        if self.cookie_name is not None and not app_cookie:
            raise ValueError(
                'Field "cookie_name" can only be specified with session persistence of type '
                '"APP_COOKIE".'
            )
        if app_cookie and not self.cookie_name:
            raise ValueError(
                'Field "cookie_name" must be specified when using the "APP_COOKIE" session '
                "persistence type."
            )
        source_ip = self.type == SessionPersistenceType.SOURCE_IP
        for name in ("persistence_timeout", "persistence_granularity"):
            if getattr(self, name) is not None and not source_ip:
                raise ValueError(f'Field "{name}" is only for session persistence "SOURCE_IP".')
        return self


class PoolSingleCreate(PoolTlsCreate, DescribedCreate):
    """A pool inside a fully populated create; `name` alone refers to a pool defined elsewhere
    in the same request."""

    protocol: Protocol | None = None
    lb_algorithm: Algorithm | None = None
    session_persistence: SessionPersistence | None = None
    healthmonitor: HealthMonitorSingleCreate | None = None
    members: Annotated[list[MemberSingleCreate], Field(max_length=1000)] = Field(
        default_factory=list
    )

    @property
    def is_reference(self) -> bool:
        return self.protocol is None and self.lb_algorithm is None

    def definition_fields(self) -> set[str]:
        return self.model_fields_set - {"name"}


class PoolCreate(PoolSingleCreate):
    protocol: Protocol
    lb_algorithm: Algorithm
    listener_id: Uuid | None = None
    loadbalancer_id: Uuid | None = None
    project_id: ProjectId | None = None


class PoolCreateRoot(Body):
    pool: PoolCreate


class PoolUpdate(PoolTlsCreate, DescribedUpdate):
    lb_algorithm: Algorithm | None = None
    session_persistence: SessionPersistenceUpdate | None = None


class PoolUpdateRoot(Body):
    pool: PoolUpdate


def merge_persistence(
    stored: dict[str, Any] | None, update: SessionPersistenceUpdate | None
) -> dict[str, Any] | None:
    """PUT semantics, as Octavia's: null clears; an object replaces the stored one, except that
    a missing type keeps the stored type. The result is checked as a whole."""
    if update is None:
        return None
    merged = {"type": (stored or {}).get("type")}
    merged.update(update.model_dump(exclude_unset=True))
    if merged.get("type") is None:
        raise ValueError("session_persistence needs a type")
    checked = SessionPersistence.model_validate(merged, strict=False)
    return checked.model_dump(mode="json")


class SessionPersistenceOut(Out):
    type: SessionPersistenceType
    cookie_name: str | None = None
    persistence_timeout: int | None = None
    persistence_granularity: str | None = None


class _PoolBase(PoolTlsOut, DescribedOut):
    protocol: PoolProtocol
    lb_algorithm: LBAlgorithm
    session_persistence: SessionPersistenceOut | None
    listeners: list[IdRef]


class PoolOut(_PoolBase):
    loadbalancers: list[IdRef]
    members: list[IdRef]
    healthmonitor_id: str | None


class PoolFull(_PoolBase):
    """As embedded in a fully populated load balancer."""

    members: list[MemberOut]
    healthmonitor: HealthMonitorFull | None

"""Member request and response bodies (Octavia v2 `member`)."""

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from steelyard.model.fields import (
    Body,
    Decimal,
    IPAddress,
    NamedCreate,
    NamedUpdate,
    Port,
    ProjectId,
    ProvisionedOut,
    Uuid,
)


def _host(value: str) -> str:
    address = ipaddress.ip_address(value)
    if address.is_unspecified or address.is_multicast or value == "255.255.255.255":
        raise ValueError("not a usable host address")
    return value


Weight = Annotated[int, Decimal, Field(ge=0, le=256)]
HostAddress = Annotated[IPAddress, AfterValidator(_host)]
DEFAULT_WEIGHT = 1


class MemberSingleCreate(NamedCreate):
    address: HostAddress
    protocol_port: Port
    weight: Weight = DEFAULT_WEIGHT
    backup: bool = False
    subnet_id: Uuid | None = None
    monitor_address: HostAddress | None = None
    monitor_port: Port | None = None


class MemberCreate(MemberSingleCreate):
    project_id: ProjectId | None = None


class MemberCreateRoot(Body):
    member: MemberCreate


class MembersBatchRoot(Body):
    members: Annotated[list[MemberCreate], Field(max_length=1000)]


class MemberUpdate(NamedUpdate):
    weight: Weight | None = None
    backup: bool | None = None
    monitor_address: HostAddress | None = None
    monitor_port: Port | None = None


class MemberUpdateRoot(Body):
    member: MemberUpdate


class MemberOut(ProvisionedOut):
    address: str
    protocol_port: int
    weight: int
    backup: bool
    subnet_id: str | None
    monitor_address: str | None
    monitor_port: int | None

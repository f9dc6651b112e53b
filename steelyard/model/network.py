"""VIP networks and subnets (Steelyard extension, `/v2/steelyard/...`)."""

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from steelyard.model.fields import Body, IPAddress, Out, Text, Timestamp, Uuid

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def _cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("cidr must be a network such as 198.18.0.0/24 (host bits zero)") from None
    if network.num_addresses < 4 and network.version == 4:
        raise ValueError("an IPv4 subnet needs at least 4 addresses (/30)")
    return str(network)


def _ifname(value: str) -> str:
    if not _IFNAME.fullmatch(value):
        raise ValueError("bridge must be an interface name: 1-15 of A-Z a-z 0-9 _ . -")
    return value


Cidr = Annotated[str, StringConstraints(max_length=64), AfterValidator(_cidr)]
IfName = Annotated[str, AfterValidator(_ifname)]
NetworkKind = Literal["bridge", "loopback"]


class NetworkCreate(Body):
    name: Annotated[Text, StringConstraints(min_length=1)]
    kind: NetworkKind
    bridge: IfName | None = None
    shared: Literal[True] = True


class NetworkCreateRoot(Body):
    network: NetworkCreate


class SubnetCreate(Body):
    network_id: Uuid
    cidr: Cidr
    gateway_ip: IPAddress | None = None
    name: Text | None = None


class SubnetCreateRoot(Body):
    subnet: SubnetCreate


class SubnetOut(Out):
    id: str
    name: str
    network_id: str
    cidr: str
    gateway_ip: str | None
    ip_version: int
    created_at: Timestamp


class NetworkOut(Out):
    id: str
    name: str
    shared: bool
    kind: str
    bridge: str | None
    subnets: list[SubnetOut]
    created_at: Timestamp

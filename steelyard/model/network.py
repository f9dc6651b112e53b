"""VIP networks and subnets (Steelyard extension, `/v2/steelyard/...`)."""

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from steelyard.model.fields import Body, IPAddress, Out, Text, Timestamp, Uuid, matching


def _cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("cidr must be a network such as 198.18.0.0/24 (host bits zero)") from None
    if network.num_addresses < 4 and network.version == 4:
        raise ValueError("an IPv4 subnet needs at least 4 addresses (/30)")
    return str(network)


Cidr = Annotated[str, StringConstraints(max_length=64), AfterValidator(_cidr)]
IfName = Annotated[
    str, matching(r"[A-Za-z0-9_.-]{1,15}", "bridge must be an interface name: 1-15 of A-Za-z0-9_.-")
]
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

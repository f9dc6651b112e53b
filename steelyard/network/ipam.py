"""Address management for VIP and member subnets (pure: plain values in, plain values out).

Reserved in every subnet: the gateway and, like Python's ``ipaddress.hosts()``:
- IPv4: the network and broadcast addresses, except in /31 (RFC 3021: both are hosts) and /32;
- IPv6: the Subnet-Router anycast address (host part all zero), except in /127 (RFC 6164) and /128.

Exceptions::

    IpamError (ValueError)
     ├── AddressOutOfRange   not in the subnet, wrong family, or not a host address
     ├── AddressInUse        already used, or the gateway
     └── SubnetExhausted     no free host address left
"""

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class IpamError(ValueError):
    """Base of the address-management errors."""


class AddressOutOfRange(IpamError):
    """The address is not a host address of the subnet."""


class AddressInUse(IpamError):
    """The address is already taken (by a port, an appliance or the gateway)."""


class SubnetExhausted(IpamError):
    """Every host address of the subnet is taken."""


def _network(cidr: str) -> IPNetwork:
    # strict: "198.18.0.5/24" is almost certainly a typo for an address, not a subnet.
    return ipaddress.ip_network(cidr, strict=True)


def _host_range(net: IPNetwork) -> tuple[int, int]:
    """First and last host address of `net` as integers (inclusive)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.num_addresses <= 2:  # /31, /32, /127, /128: every address is a host
        return first, last
    if net.version == 4:
        return first + 1, last - 1
    return first + 1, last  # IPv6 has no broadcast; only the anycast address is reserved


def _text(value: int, net: IPNetwork) -> str:
    # ip_address(int) would guess IPv4 for small integers, so build the family explicitly.
    if net.version == 4:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def default_gateway(cidr: str) -> str:
    """The conventional gateway of a subnet: its first host address."""
    net = _network(cidr)
    return _text(_host_range(net)[0], net)


def _address(text: str, net: IPNetwork, what: str) -> IPAddress:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as exc:
        raise AddressOutOfRange(f"{what} {text!r} is not an IP address") from exc
    if addr.version != net.version or addr not in net:
        raise AddressOutOfRange(f"{what} {addr} is not in subnet {net}")
    return addr


def _gateway(gateway: str | None, net: IPNetwork) -> int | None:
    return None if gateway is None else int(_address(gateway, net, "gateway"))


def _used(used: Iterable[str], net: IPNetwork) -> set[int]:
    """Used addresses as integers; addresses of other subnets cannot collide and are ignored."""
    result = set()
    for text in used:
        addr = ipaddress.ip_address(text)
        if addr.version == net.version and addr in net:
            result.add(int(addr))
    return result


def validate(cidr: str, address: str, *, gateway: str | None, used: Iterable[str] = ()) -> str:
    """Check that a requested `address` may be given out; return it in canonical form."""
    net = _network(cidr)
    addr = _address(address, net, "address")
    first, last = _host_range(net)
    if not first <= int(addr) <= last:
        kind = "network" if int(addr) < first else "broadcast"
        raise AddressOutOfRange(f"{addr} is the {kind} address of {net}, not a host address")
    if int(addr) == _gateway(gateway, net):
        raise AddressInUse(f"{addr} is the gateway of {net}")
    if int(addr) in _used(used, net):
        raise AddressInUse(f"{addr} is already in use in {net}")
    return str(addr)


def allocate(cidr: str, *, gateway: str | None, used: Iterable[str] = ()) -> str:
    """The lowest free host address of `cidr`.

    Walks up from the first host address, skipping the gateway and `used`; it stops after at
    most len(used) + 2 steps, so an IPv6 /64 is never enumerated.
    """
    net = _network(cidr)
    first, last = _host_range(net)
    taken = _used(used, net)
    gw = _gateway(gateway, net)
    if gw is not None:
        taken.add(gw)
    candidate = first
    while candidate in taken:
        candidate += 1
    if candidate > last:
        raise SubnetExhausted(f"no free address left in {net}")
    return _text(candidate, net)

"""Linux bridges for VIP and member networks, with the host holding the gateway address.

A bridge joins the appliances' veths; the host's address on it is the subnet's gateway, so the
host (tests, the controller, a local router) reaches every appliance through the connected
route. Nothing here adds a default route, NAT or forwarding: the networks stay on this machine.
"""

import hashlib
import ipaddress
import json
from pathlib import Path
from typing import Any

from steelyard.network.iproute import IpCommandError, host_link, ip, ip_batch
from steelyard.network.names import validate_link_name


class NotABridge(RuntimeError):
    """A link of that name exists but is not a bridge; we leave it alone."""


def _addresses(name: str, family: int) -> set[tuple[str, int]]:
    links: list[dict[str, Any]] = json.loads(
        ip("addr", "show", "dev", name, family=family, json_out=True)
    )
    return {
        (str(ipaddress.ip_address(a["local"])), int(a["prefixlen"]))
        for link in links
        for a in link.get("addr_info", [])
    }


def address_commands(
    dev: str, want: ipaddress.IPv4Interface | ipaddress.IPv6Interface, have: set[tuple[str, int]]
) -> list[str]:
    """`ip` lines that make `want` present on `dev`, given the addresses it `have`s (pure).

    The same address with another prefix length is a different address to the kernel; it is
    replaced so the connected route is the one asked for. Other addresses stay (dual stack).
    """
    ip_text, plen = str(want.ip), want.network.prefixlen
    commands = [
        f"addr del {a}/{p} dev {dev}" for a, p in sorted(have) if a == ip_text and p != plen
    ]
    if (ip_text, plen) not in have:
        # nodad: an IPv6 address is usable at once instead of after duplicate detection (~1 s);
        # these networks are ours alone, so there is nothing to detect.
        nodad = " nodad" if want.version == 6 else ""
        commands.append(f"addr replace {want.with_prefixlen} dev {dev}{nodad}")
    return commands


def bridge_mac(name: str) -> str:
    """A fixed, locally administered unicast MAC for bridge `name` (pure).

    A bridge without an address of its own takes the lowest MAC of its ports and changes it
    whenever ports come and go; appliances that cached the old one in their ARP tables then
    send to a MAC nobody answers to (their heartbeats to the host were lost after a failover
    removed the port that had lent its MAC). A MAC set explicitly stays.
    """
    digest = hashlib.sha256(name.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def _mac_is_fixed(name: str) -> bool:
    """NET_ADDR_SET (3): the address was given, not inherited from a port."""
    try:
        return Path(f"/sys/class/net/{name}/addr_assign_type").read_text().strip() == "3"
    except OSError:
        return False


def ensure_bridge(name: str, gateway_cidr: str) -> None:
    """Create bridge `name` (if missing) holding `gateway_cidr` (e.g. "198.18.0.1/24"), and up.

    Idempotent and repairing: an existing bridge gets a missing address back and is set up.
    Call it once per address family for a dual-stack network.
    """
    validate_link_name(name)
    want = ipaddress.ip_interface(gateway_cidr)
    link = host_link(name)
    commands: list[str] = []
    if link is None:
        # No STP: ports forward at once (a fresh appliance must answer in milliseconds, not after
        # STP's listening and learning delays) and nothing here can form a loop.
        # No multicast snooping: without a querier it can stall IPv6 neighbour discovery.
        commands.append(
            f"link add {name} address {bridge_mac(name)} type bridge stp_state 0 mcast_snooping 0"
        )
        have: set[tuple[str, int]] = set()
    elif not link.is_bridge:
        raise NotABridge(f"link {name} exists and is not a bridge")
    else:
        have = _addresses(name, want.version)
        if not _mac_is_fixed(name):
            commands.append(f"link set {name} address {bridge_mac(name)}")
    commands += address_commands(name, want, have)
    if link is None or not link.up:
        commands.append(f"link set {name} up")
    ip_batch(commands)


def delete_bridge(name: str) -> bool:
    """Remove bridge `name`; False if there was none. Its ports are detached, not deleted."""
    validate_link_name(name)
    link = host_link(name)
    if link is None:
        return False
    if not link.is_bridge:
        raise NotABridge(f"link {name} exists and is not a bridge; not deleting it")
    try:
        ip("link", "del", name)
    except IpCommandError:
        if host_link(name) is not None:
            raise  # gone meanwhile is what we wanted; still there is an error
    return True

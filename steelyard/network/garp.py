"""Gratuitous ARP: an address that moved to another link says so at once.

A replacement appliance often gets the address its dead predecessor had (the VIP of a SINGLE
load balancer, a freed own address), and every neighbour on the bridge (the host, the ECMP
router, clients) still maps it to the dead one's MAC until its entry goes stale: seconds of
lost connections. Linux updates an entry it already has when it hears a gratuitous ARP, so
the new holder announces each IPv4 address it took. (IPv6 neighbours learn from the
unsolicited advertisements the kernel sends itself when an address is added.)
"""

import ipaddress
import socket
import struct
from collections.abc import Sequence

from steelyard.network.namespaces import run_in_netns

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def garp_frame(mac: bytes, address: str) -> bytes:
    """An ARP request for `address` from `address` (pure): what RFC 5227 calls an ARP
    announcement."""
    ip = ipaddress.IPv4Address(address).packed
    header = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    # hardware Ethernet, protocol IPv4, sizes 6 and 4, operation request
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + ip
    return header + arp


def announce(netns: str, dev: str, addresses: Sequence[str], repeat: int = 2) -> None:
    """Send gratuitous ARPs for the IPv4 `addresses` out of `dev` inside `netns`."""
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    if not v4:
        return

    def send() -> None:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
            sock.bind((dev, ETH_P_ARP))
            mac = sock.getsockname()[4]
            for _ in range(repeat):
                for address in v4:
                    sock.send(garp_frame(mac, address))

    run_in_netns(netns, send)
